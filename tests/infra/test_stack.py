"""The synthesized stack: each resource with the settings the design asks for."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from fountain_saga import topology
from tests.conftest import REPO
from tests.infra.conftest import PROD_CORS_ORIGINS, Synthesized
from tests.infra.intrinsics import as_list, render

STAGES = ["dev", "prod"]


def _topology_handlers() -> set[str]:
    return {f.handler for f in topology.FUNCTIONS}


def _our_functions(synth: Synthesized, stage: str = "dev") -> dict[str, dict[str, Any]]:
    """The topology's functions (not CDK's own custom-resource provider), by handler."""
    return {
        r["Properties"]["Handler"]: r["Properties"]
        for r in synth.resources("AWS::Lambda::Function", stage).values()
        if r["Properties"].get("Handler") in _topology_handlers()
    }


# -- data ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("stage", STAGES)
def test_every_table_of_the_topology_is_on_demand_recoverable_and_encrypted(
    synth: Synthesized, stage: str
) -> None:
    tables = synth.resources("AWS::DynamoDB::Table", stage)
    assert len(tables) == len(topology.TABLES) == 8  # six entities, the ledger, the idempotency keys
    for table in tables.values():
        properties = table["Properties"]
        assert properties["BillingMode"] == "PAY_PER_REQUEST"
        assert properties["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
        assert properties["SSESpecification"]["SSEEnabled"] is True


def test_prod_data_outlives_the_stack_and_dev_data_does_not(synth: Synthesized) -> None:
    kept = ("AWS::DynamoDB::Table", "AWS::S3::Bucket")
    for resource_type in kept:
        for resource in synth.resources(resource_type, "prod").values():
            assert resource["DeletionPolicy"] == resource["UpdateReplacePolicy"] == "Retain"
        for resource in synth.resources(resource_type, "dev").values():
            assert resource["DeletionPolicy"] == "Delete"
    for table in synth.resources("AWS::DynamoDB::Table", "prod").values():
        assert table["Properties"]["DeletionProtectionEnabled"] is True
    # Only dev empties its staging bucket on `cdk destroy`.
    assert synth.resources("Custom::S3AutoDeleteObjects", "dev")
    assert not synth.resources("Custom::S3AutoDeleteObjects", "prod")


@pytest.mark.parametrize("stage", STAGES)
def test_the_staging_bucket_is_private_encrypted_and_expires_staged_plays(
    synth: Synthesized, stage: str
) -> None:
    (bucket,) = synth.resources("AWS::S3::Bucket", stage).values()
    properties = bucket["Properties"]
    assert set(properties["PublicAccessBlockConfiguration"].values()) == {True}
    assert properties["PublicAccessBlockConfiguration"].keys() == {
        "BlockPublicAcls",
        "BlockPublicPolicy",
        "IgnorePublicAcls",
        "RestrictPublicBuckets",
    }
    (encryption,) = properties["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert encryption["ServerSideEncryptionByDefault"]["SSEAlgorithm"] in ("AES256", "aws:kms")
    (rule,) = properties["LifecycleConfiguration"]["Rules"]
    assert rule["Status"] == "Enabled" and rule["Prefix"] == "plays/" and rule["ExpirationInDays"] == 7


def test_staged_plays_land_under_the_prefix_the_bucket_expires_and_the_functions_may_read() -> None:
    from fountain_infra.data import STAGED_PLAYS_PREFIX
    from fountain_saga.play.fountain_import import parse_play
    from fountain_saga.saga.claim_check import stage_play

    class RecordingS3:
        def __init__(self) -> None:
            self.keys: list[str] = []

        def put_object(self, *, Key: str, **_: Any) -> None:  # noqa: N803 (boto3's argument name)
            self.keys.append(Key)

    s3 = RecordingS3()
    stage_play(parse_play("INT. KITCHEN - DAY\n\nBOB\nHello.\n"), "p1", bucket="b", s3=s3)
    assert s3.keys and all(key.startswith(STAGED_PLAYS_PREFIX) for key in s3.keys)


def test_the_event_bus_exists_for_the_sagas_domain_events(synth: Synthesized) -> None:
    assert len(synth.resources("AWS::Events::EventBus")) == 1


# -- functions -----------------------------------------------------------------------------------
@pytest.mark.parametrize("spec", topology.FUNCTIONS, ids=lambda s: s.name)
def test_each_function_runs_python312_traced_with_the_size_its_description_gives(
    synth: Synthesized, spec: topology.FunctionSpec
) -> None:
    properties = _our_functions(synth)[spec.handler]
    assert properties["Runtime"] == "python3.12"
    assert properties["Architectures"] == ["x86_64"]  # what the layer's wheels are built for
    assert properties["TracingConfig"] == {"Mode": "Active"}
    assert properties["Timeout"] == spec.timeout_seconds
    assert properties["MemorySize"] == spec.memory_mb
    env = properties["Environment"]["Variables"]
    assert env["POWERTOOLS_SERVICE_NAME"] == spec.service
    assert env["POWERTOOLS_METRICS_NAMESPACE"] == topology.METRICS_NAMESPACE
    assert env["POWERTOOLS_LOG_LEVEL"] == "INFO"
    assert env[topology.FAULT_INJECTION_ENV] == "disabled"
    for key in spec.tables:
        table = synth.stacks["dev"].data.tables[key]
        assert env[topology.ENTITY_OR_LEDGER[key].env_var] == {"Ref": synth.logical_id(table)}
    if spec.starts_saga:
        machine = synth.stacks["dev"].orchestration.state_machine
        assert env[topology.STATE_MACHINE_ARN_ENV] == {"Ref": synth.logical_id(machine)}
    # Its own log group, with a retention.
    log_group = synth.templates["dev"]["Resources"][properties["LoggingConfig"]["LogGroup"]["Ref"]]
    assert log_group["Properties"]["RetentionInDays"] > 0


def test_the_handlers_code_and_their_dependencies_are_separate_assets(synth: Synthesized) -> None:
    """A handler edit re-zips the code only; pip runs for the layer alone."""
    (layer,) = synth.resources("AWS::Lambda::LayerVersion").values()
    layer_key = layer["Properties"]["Content"]["S3Key"]
    assert layer["Properties"]["CompatibleRuntimes"] == ["python3.12"]
    code_keys = {f["Code"]["S3Key"] for f in _our_functions(synth).values()}
    assert len(code_keys) == 1 and layer_key not in code_keys
    for function in _our_functions(synth).values():
        assert function["Layers"] == [{"Ref": next(iter(synth.resources("AWS::Lambda::LayerVersion")))}]


# -- orchestration -------------------------------------------------------------------------------
@pytest.mark.parametrize("operation", topology.OPERATIONS)
def test_each_state_machine_is_standard_logs_everything_to_its_own_group_and_is_traced(
    synth: Synthesized, operation: topology.Operation
) -> None:
    orchestration = synth.stacks["dev"].orchestration
    properties = synth.state_machine(operation)
    assert properties["StateMachineType"] == "STANDARD"
    assert properties["StateMachineName"] == f"{topology.MACHINES[operation].name}-dev"
    logging = properties["LoggingConfiguration"]
    assert logging["Level"] == "ALL" and logging["IncludeExecutionData"] is True
    (destination,) = logging["Destinations"]
    log_group = render(destination["CloudWatchLogsLogGroup"]["LogGroupArn"])
    assert log_group == f"<{synth.logical_id(orchestration.execution_log_groups[operation])}.Arn>"
    assert properties["TracingConfiguration"] == {"Enabled": True}
    assert len(set(orchestration.execution_log_groups.values())) == len(topology.OPERATIONS)


@pytest.mark.parametrize("stage", STAGES)
def test_the_create_machines_arn_leads_the_code_to_the_other_machines(synth: Synthesized, stage: str) -> None:
    """Functions are given the create machine's ARN alone and derive the others with
    topology.machine_arn: the deployed names must follow its convention, and the grants to start and
    describe executions must name exactly the machines it derives."""
    template = synth.templates[stage]
    names = {}
    for operation in topology.OPERATIONS:
        name = synth.state_machine(operation, stage)["StateMachineName"]
        assert isinstance(name, str), "a machine's name must be known at synth time"
        names[operation] = name

    def arn(name: str) -> str:
        # What Ref of an AWS::StepFunctions::StateMachine returns.
        return f"arn:aws:states:eu-west-3:111122223333:stateMachine:{name}"

    create = synth.logical_id(synth.stacks[stage].orchestration.state_machine)
    for spec in topology.FUNCTIONS:
        if spec.starts_saga:
            properties = _our_functions(synth, stage)[spec.handler]
            assert properties["Environment"]["Variables"][topology.STATE_MACHINE_ARN_ENV] == {"Ref": create}
    derived = {operation: topology.machine_arn(arn(names["create"]), operation) for operation in names}
    assert derived == {operation: arn(name) for operation, name in names.items()}
    assert len(set(derived.values())) == len(topology.OPERATIONS)
    # Each derived ARN is a machine the functions may start, and its executions ones they may describe.
    by_logical_id = {
        synth.logical_id(machine): names[operation]
        for operation, machine in synth.stacks[stage].orchestration.state_machines.items()
    }
    started: set[str] = set()
    described: set[str] = set()
    for policy in synth.resources("AWS::IAM::Policy", stage).values():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            resources = as_list(statement["Resource"])
            if statement["Action"] == "states:StartExecution":
                started |= {arn(by_logical_id[r["Ref"]]) for r in resources}
            elif statement["Action"] == "states:DescribeExecution":
                described |= {render(r) for r in resources}
    assert started == set(derived.values())
    executions = "arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution"
    assert described == {f"{executions}:{machine.rpartition(':')[2]}:*" for machine in derived.values()}
    assert template["Outputs"]["StateMachineArn"]["Value"] == {"Ref": create}


# -- API -----------------------------------------------------------------------------------------
def _methods(synth: Synthesized, stage: str) -> dict[tuple[str, str], dict[str, Any]]:
    """API methods by (HTTP method, path)."""
    template = synth.templates[stage]["Resources"]
    paths: dict[str, str] = {}

    def path_of(resource_id: Any) -> str:
        if "Fn::GetAtt" in resource_id:  # the root resource
            return ""
        logical_id = resource_id["Ref"]
        if logical_id not in paths:
            properties = template[logical_id]["Properties"]
            paths[logical_id] = f"{path_of(properties['ParentId'])}/{properties['PathPart']}"
        return paths[logical_id]

    return {
        (m["Properties"]["HttpMethod"], path_of(m["Properties"]["ResourceId"]) or "/"): m["Properties"]
        for m in synth.resources("AWS::ApiGateway::Method", stage).values()
    }


def test_the_api_routes_proxy_to_the_api_function_with_iam_authorization(synth: Synthesized) -> None:
    methods = _methods(synth, "dev")
    assert set(methods) == {
        ("POST", "/plays"),
        ("GET", "/plays"),
        ("GET", "/plays/{playId}"),
        ("GET", "/plays/{playId}/fountain"),
        ("PUT", "/plays/{playId}"),
        ("DELETE", "/plays/{playId}"),
        ("GET", "/plays/{playId}/sagas"),
        # The API's own 405 (with Allow) for any other method on a route's path...
        ("ANY", "/plays"),
        ("ANY", "/plays/{playId}"),
        ("ANY", "/plays/{playId}/fountain"),
        ("ANY", "/plays/{playId}/sagas"),
        ("ANY", "/{proxy+}"),  # ...and its JSON 404 for any other path
    }
    api_function = synth.logical_id(synth.stacks["dev"].functions.by_name["Api"])
    (validator_id,) = synth.resources("AWS::ApiGateway::RequestValidator")
    for method in methods.values():
        assert method["AuthorizationType"] == "AWS_IAM"
        assert method["Integration"]["Type"] == "AWS_PROXY"
        assert f"<{api_function}.Arn>" in render(method["Integration"]["Uri"])
        assert method["RequestValidatorId"] == {"Ref": validator_id}
    assert methods[("GET", "/plays/{playId}")]["RequestParameters"] == {"method.request.path.playId": True}
    (validator,) = synth.resources("AWS::ApiGateway::RequestValidator").values()
    assert validator["Properties"]["ValidateRequestParameters"] is True


def test_every_documented_operation_has_a_gateway_method_and_every_path_takes_any_method(
    synth: Synthesized,
) -> None:
    """docs/openapi.json (tested against the function's routes in tests/unit) against the gateway."""
    document = json.loads((REPO / "docs" / "openapi.json").read_text())
    documented = {
        (verb.upper(), path) for path, operations in document["paths"].items() for verb in operations
    }
    methods = _methods(synth, "dev")
    assert documented == {key for key in methods if key[0] != "ANY"}
    assert {path for _, path in documented} | {"/{proxy+}"} == {
        path for verb, path in methods if verb == "ANY"
    }


def test_only_the_api_knows_the_page_token_key_a_secret_nobody_typed(synth: Synthesized) -> None:
    (secret_id, secret), *_ = synth.resources("AWS::SecretsManager::Secret").items()
    assert secret["Properties"]["GenerateSecretString"]["PasswordLength"] >= 32
    stack = synth.stacks["dev"]
    for name, function in stack.functions.by_name.items():
        properties = synth.templates["dev"]["Resources"][synth.logical_id(function)]["Properties"]
        env = properties["Environment"]["Variables"]
        if topology.function(name).signs_page_tokens:
            assert env[topology.PAGE_TOKEN_SECRET_ENV] == {"Ref": secret_id}
        else:
            assert topology.PAGE_TOKEN_SECRET_ENV not in env


def test_request_bodies_reach_the_function_as_the_clients_bytes(synth: Synthesized) -> None:
    """So invalid UTF-8 is the function's 400, as locally, not mangled on the way."""
    (rest_api,) = synth.resources("AWS::ApiGateway::RestApi").values()
    assert set(rest_api["Properties"]["BinaryMediaTypes"]) == {"application/json", "text/plain"}


@pytest.mark.parametrize("stage", STAGES)
def test_the_stage_throttles_logs_access_and_errors_and_is_traced(synth: Synthesized, stage: str) -> None:
    (api_stage,) = synth.resources("AWS::ApiGateway::Stage", stage).values()
    properties = api_stage["Properties"]
    assert properties["StageName"] == stage
    assert properties["TracingEnabled"] is True
    access_log = properties["AccessLogSetting"]
    assert "$context.requestId" in access_log["Format"] and "$context.status" in access_log["Format"]
    access_logs = synth.logical_id(synth.stacks[stage].api.access_logs)
    assert render(access_log["DestinationArn"]).endswith(f":log-group:<{access_logs}>")
    (settings,) = properties["MethodSettings"]
    assert settings["HttpMethod"] == "*" and settings["ResourcePath"] == "/*"
    assert (
        settings["ThrottlingRateLimit"] > 0
        and settings["ThrottlingBurstLimit"] >= settings["ThrottlingRateLimit"]
    )
    assert settings["LoggingLevel"] in ("ERROR", "INFO") and settings["DataTraceEnabled"] is False


def test_cors_is_off_unless_origins_are_configured(synth: Synthesized) -> None:
    dev = _methods(synth, "dev")
    assert not [key for key in dev if key[0] == "OPTIONS"]
    prod = _methods(synth, "prod")
    preflights = {path: m for (verb, path), m in prod.items() if verb == "OPTIONS"}
    assert set(preflights) == {path for verb, path in prod if verb != "OPTIONS"} | {"/"}
    for preflight in preflights.values():
        (response,) = preflight["Integration"]["IntegrationResponses"]
        origin = response["ResponseParameters"]["method.response.header.Access-Control-Allow-Origin"]
        assert origin == f"'{PROD_CORS_ORIGINS[0]}'"
    # Every method but the browsers' unsigned preflight still requires SigV4.
    assert all(m["AuthorizationType"] == "AWS_IAM" for (verb, _), m in prod.items() if verb != "OPTIONS")


def test_gateway_errors_answer_in_the_apis_error_shape(synth: Synthesized) -> None:
    responses = {
        r["Properties"]["ResponseType"]: r["Properties"]
        for r in synth.resources("AWS::ApiGateway::GatewayResponse").values()
    }
    # Too large, unsigned or denied, throttled, timed out, and anything else of either class.
    assert {
        "REQUEST_TOO_LARGE",
        "MISSING_AUTHENTICATION_TOKEN",
        "INVALID_SIGNATURE",
        "EXPIRED_TOKEN",
        "ACCESS_DENIED",
        "THROTTLED",
        "INTEGRATION_TIMEOUT",
        "DEFAULT_4XX",
        "DEFAULT_5XX",
    } <= set(responses)
    rest_api = synth.logical_id(synth.stacks["dev"].api.rest_api)
    codes = {}
    for response_type, response in responses.items():
        assert response["RestApiId"] == {"Ref": rest_api}
        template = response["ResponseTemplates"]["application/json"]
        # API Gateway substitutes the message as a quoted JSON string.
        shaped = json.loads(template.replace("$context.error.messageString", '"Forbidden"'))
        assert shaped == {"error": {"code": shaped["error"]["code"], "message": "Forbidden"}}
        codes[response_type] = shaped["error"]["code"]
    assert codes["REQUEST_TOO_LARGE"] == "body_too_large"  # the function's own code for a 413
    assert codes["THROTTLED"] == "throttled" and codes["INTEGRATION_TIMEOUT"] == "integration_timeout"
    assert codes["MISSING_AUTHENTICATION_TOKEN"] == "missing_authentication"
    for response_type, code in codes.items():
        assert re.fullmatch(r"[a-z_]+", code) or response_type.startswith("DEFAULT"), code


def test_with_origins_configured_every_answer_a_browser_can_get_names_the_origin(synth: Synthesized) -> None:
    """The preflight is the gateway's mock; the function's answers carry the headers it is told of
    in its environment; the gateway's own errors carry them as response headers."""
    for stage, origins in (("dev", None), ("prod", ",".join(PROD_CORS_ORIGINS))):
        api_function = synth.templates[stage]["Resources"][
            synth.logical_id(synth.stacks[stage].functions.by_name[topology.API_FUNCTION.name])
        ]["Properties"]
        assert api_function["Environment"]["Variables"].get(topology.CORS_ORIGINS_ENV) == origins
        others = [
            synth.templates[stage]["Resources"][synth.logical_id(function)]["Properties"]
            for name, function in synth.stacks[stage].functions.by_name.items()
            if name != topology.API_FUNCTION.name
        ]
        assert not [f for f in others if topology.CORS_ORIGINS_ENV in f["Environment"]["Variables"]]
    for stage, expected in (("dev", None), ("prod", f"'{PROD_CORS_ORIGINS[0]}'")):
        responses = synth.resources("AWS::ApiGateway::GatewayResponse", stage).values()
        assert len(responses) >= 9
        for response in responses:
            headers = response["Properties"].get("ResponseParameters") or {}
            assert headers.get("gatewayresponse.header.Access-Control-Allow-Origin") == expected
            if expected:
                exposed = headers["gatewayresponse.header.Access-Control-Expose-Headers"]
                assert "Retry-After" in exposed.strip("'").split(",")


def test_the_outputs_give_the_stage_url_and_what_the_e2e_suite_needs(synth: Synthesized) -> None:
    outputs = synth.templates["dev"]["Outputs"]
    assert {
        "ApiUrl",
        "TableNames",
        "StateMachineArn",
        "RevisePlayStateMachineArn",
        "DeletePlayStateMachineArn",
        "StagingBucketName",
        "EventBusName",
        "AlarmTopicArn",
    } <= set(outputs)
    machines = synth.stacks["dev"].orchestration.state_machines
    machine_outputs: dict[str, topology.Operation] = {
        "StateMachineArn": "create",
        "RevisePlayStateMachineArn": "revise",
        "DeletePlayStateMachineArn": "delete",
    }
    for output, operation in machine_outputs.items():
        assert outputs[output]["Value"] == {"Ref": synth.logical_id(machines[operation])}
    url = render(outputs["ApiUrl"]["Value"])
    rest_api = synth.logical_id(synth.stacks["dev"].api.rest_api)
    (stage_id,) = synth.resources("AWS::ApiGateway::Stage")
    assert url == f"https://<{rest_api}>.execute-api.<AWS::Region>.<AWS::URLSuffix>/<{stage_id}>/"
    # FOUNTAIN_TABLE_NAMES for tests/e2e: a JSON object of each table's name.
    names = render(outputs["TableNames"]["Value"])
    tables = synth.stacks["dev"].data.tables
    assert json.loads(names) == {key: f"<{synth.logical_id(t)}>" for key, t in tables.items()}


# -- monitoring ----------------------------------------------------------------------------------
def _alarms(synth: Synthesized) -> list[dict[str, Any]]:
    return [a["Properties"] for a in synth.resources("AWS::CloudWatch::Alarm").values()]


def test_every_alarm_notifies_the_encrypted_topic(synth: Synthesized) -> None:
    (topic_id, topic), *_ = synth.resources("AWS::SNS::Topic").items()
    assert "KmsMasterKeyId" in topic["Properties"]
    (key,) = synth.resources("AWS::KMS::Key").values()
    assert key["Properties"]["EnableKeyRotation"] is True
    publishers = {
        service
        for s in key["Properties"]["KeyPolicy"]["Statement"]
        if "kms:GenerateDataKey*" in s["Action"]
        for service in as_list(s["Principal"].get("Service", []))
    }
    assert {"cloudwatch.amazonaws.com", "events.amazonaws.com"} <= publishers
    alarms = _alarms(synth)
    assert alarms and all(a["AlarmActions"] == [{"Ref": topic_id}] for a in alarms)


def test_alarms_cover_failed_sagas_compensation_failures_and_every_functions_errors_and_throttles(
    synth: Synthesized,
) -> None:
    alarms = _alarms(synth)
    orchestration = synth.stacks["dev"].orchestration
    # Every saga's failed executions; for a revision or deletion, CleanupPending is one of them.
    for operation, machine in orchestration.state_machines.items():
        dimension = {"Ref": synth.logical_id(machine)}
        assert any(
            a["MetricName"] == "ExecutionsFailed"
            and a["Dimensions"] == [{"Name": "StateMachineArn", "Value": dimension}]
            for a in alarms
        ), operation
    for operation in ("revise", "delete"):
        states = json.loads(topology.MACHINES[operation].file.read_text())["States"]
        assert states["CleanupPending"]["Type"] == "Fail", operation
    # Every saga that compensates has the COMPENSATION_FAILED alarm, counted from its own log.
    filters = [f["Properties"] for f in synth.resources("AWS::Logs::MetricFilter").values()]
    for operation in ("create", "revise"):
        log_group = {"Ref": synth.logical_id(orchestration.execution_log_groups[operation])}
        (compensation_failed,) = [
            f["MetricTransformations"][0]
            for f in filters
            if '"CompensationFailed"' in f["FilterPattern"] and f["LogGroupName"] == log_group
        ]
        assert any(
            a["MetricName"] == compensation_failed["MetricName"]
            and a["Namespace"] == compensation_failed["MetricNamespace"]
            for a in alarms
        ), operation
    for spec in topology.FUNCTIONS:
        function = {"Ref": synth.logical_id(synth.stacks["dev"].functions.by_name[spec.name])}
        for metric in ("Errors", "Throttles"):
            assert any(
                a["MetricName"] == metric and a["Dimensions"] == [{"Name": "FunctionName", "Value": function}]
                for a in alarms
            ), (spec.name, metric)
    for alarm in alarms:
        assert alarm["Threshold"] == 1 and alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"


@pytest.mark.parametrize("operation", topology.OPERATIONS)
def test_the_metric_filters_match_the_terminal_states_of_each_asl(
    synth: Synthesized, operation: topology.Operation
) -> None:
    from fountain_infra import monitoring

    states = json.loads(topology.MACHINES[operation].file.read_text())["States"]
    terminal = {name for name, state in states.items() if state["Type"] in ("Succeed", "Fail")}
    outcomes = monitoring.OUTCOMES[operation]
    # Every way a saga of this kind ends is counted, and nothing it cannot reach.
    assert {outcome.state for outcome in outcomes} == terminal
    log_group = {"Ref": synth.logical_id(synth.stacks["dev"].orchestration.execution_log_groups[operation])}
    filters = {
        f["Properties"]["FilterPattern"]: f["Properties"]
        for f in synth.resources("AWS::Logs::MetricFilter").values()
        if f["Properties"]["LogGroupName"] == log_group
    }
    assert len(filters) == len(outcomes)
    for outcome in outcomes:
        kind = {"Succeed": "SucceedStateEntered", "Fail": "FailStateEntered"}[states[outcome.state]["Type"]]
        assert outcome.entered == kind
        pattern = f'{{ ($.type = "{kind}") && ($.details.name = "{outcome.state}") }}'
        (transformation,) = filters[pattern]["MetricTransformations"]
        assert transformation["MetricName"] == monitoring.outcome_metric_name(operation, outcome.state)
    # The create saga's metrics keep the names its alarms and dashboards always had.
    if operation == "create":
        assert {monitoring.outcome_metric_name("create", o.state) for o in outcomes} == {
            "SagasPlayCreated",
            "SagasRolledBack",
            "SagasCompensationFailed",
        }


@pytest.mark.parametrize(
    ("detail_type", "operations"),
    [("PlayCompensationFailed", ("create", "revise")), ("PlayCleanupPending", ("revise", "delete"))],
)
def test_every_event_an_operator_must_act_on_reaches_the_topic(
    synth: Synthesized, detail_type: str, operations: tuple[str, ...]
) -> None:
    (rule,) = [
        r
        for r in synth.resources("AWS::Events::Rule").values()
        if r["Properties"].get("EventPattern", {}).get("detail-type") == [detail_type]
    ]
    properties = rule["Properties"]
    assert properties["EventPattern"] == {"source": [topology.EVENT_SOURCE], "detail-type": [detail_type]}
    assert properties["EventBusName"] == {"Ref": synth.logical_id(synth.stacks["dev"].data.event_bus)}
    (target,) = properties["Targets"]
    assert target["Arn"] == {"Ref": next(iter(synth.resources("AWS::SNS::Topic")))}
    # The sagas that can end so really publish that detail type from that source.
    for operation in operations:
        states = json.loads(topology.MACHINES[operation].file.read_text())["States"].values()  # type: ignore[index]
        entries = [
            entry
            for state in states
            if state.get("Resource") == "arn:aws:states:::events:putEvents"
            for entry in state["Parameters"]["Entries"]
        ]
        assert {detail_type} <= {e["DetailType"] for e in entries}, operation
        assert {e["Source"] for e in entries} == {topology.EVENT_SOURCE}, operation


def test_the_dashboard_shows_each_sagas_starts_outcomes_and_duration(synth: Synthesized) -> None:
    from fountain_infra import monitoring

    (dashboard,) = synth.resources("AWS::CloudWatch::Dashboard").values()
    body = render(dashboard["Properties"]["DashboardBody"])
    for metric in ("ExecutionsStarted", "ExecutionTime"):
        assert f'"{metric}"' in body, metric
    for operation, outcomes in monitoring.OUTCOMES.items():
        for outcome in outcomes:
            assert f'"{monitoring.outcome_metric_name(operation, outcome.state)}"' in body
        # A row per machine: its starts and durations by its own ARN.
        machine = synth.logical_id(synth.stacks["dev"].orchestration.state_machines[operation])
        assert body.count(f"<{machine}>") >= 3, operation


def test_stuck_sagas_are_swept_every_five_minutes_and_alarmed_on(synth: Synthesized) -> None:
    stack = synth.stacks["dev"]
    sweeper = synth.logical_id(stack.functions.by_name[topology.SWEEPER_FUNCTION.name])
    (schedule,) = [
        r for r in synth.resources("AWS::Events::Rule").values() if "ScheduleExpression" in r["Properties"]
    ]
    assert schedule["Properties"]["ScheduleExpression"] == "rate(5 minutes)"
    assert [t["Arn"] for t in schedule["Properties"]["Targets"]] == [{"Fn::GetAtt": [sweeper, "Arn"]}]
    alarms = [a["Properties"] for a in synth.resources("AWS::CloudWatch::Alarm").values()]
    (stuck,) = [a for a in alarms if a.get("MetricName") == "StuckSagas"]
    assert stuck["Namespace"] == topology.METRICS_NAMESPACE
    assert stuck["Dimensions"] == [{"Name": "service", "Value": topology.SWEEPER_FUNCTION.service}]
    assert stuck["Threshold"] == 1 and stuck["AlarmActions"]


def test_an_event_a_saga_still_owes_after_a_sweep_has_an_alarm_of_its_own(synth: Synthesized) -> None:
    alarms = [a["Properties"] for a in synth.resources("AWS::CloudWatch::Alarm").values()]
    (owed,) = [a for a in alarms if a.get("MetricName") == "AnnouncementsStillOwed"]
    assert owed["Namespace"] == topology.METRICS_NAMESPACE
    assert owed["Dimensions"] == [{"Name": "service", "Value": topology.SWEEPER_FUNCTION.service}]
    # The sweeper tried to publish it and could not: it stays owed until a sweep succeeds.
    assert owed["Statistic"] == "Maximum"
    assert owed["Threshold"] == 1 and owed["AlarmActions"]
    assert owed["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"


def test_sagas_the_sweeper_stopped_recovering_have_an_alarm_of_their_own(synth: Synthesized) -> None:
    alarms = [a["Properties"] for a in synth.resources("AWS::CloudWatch::Alarm").values()]
    (unrecoverable,) = [a for a in alarms if a.get("MetricName") == "UnrecoverableSagas"]
    assert unrecoverable["Namespace"] == topology.METRICS_NAMESPACE
    assert unrecoverable["Dimensions"] == [{"Name": "service", "Value": topology.SWEEPER_FUNCTION.service}]
    # Every sweep counts them again until an operator ends them: any one of them is an alarm.
    assert unrecoverable["Statistic"] == "Maximum"
    assert unrecoverable["Threshold"] == 1 and unrecoverable["AlarmActions"]
    assert unrecoverable["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    sweeper = _our_functions(synth)[topology.SWEEPER_FUNCTION.handler]
    env = sweeper["Environment"]["Variables"]
    assert env[topology.RECOVERY_ATTEMPTS_ENV] == str(topology.MAX_RECOVERY_ATTEMPTS)
