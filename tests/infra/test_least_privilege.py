"""IAM, statement by statement: each role may do exactly what the topology says it needs."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from fountain_saga import topology
from tests.infra.conftest import Synthesized
from tests.infra.intrinsics import Statement, as_list, render, role_statements

DDB_WRITE = frozenset(
    {"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem"}
)
DDB_READ = frozenset(
    {
        "dynamodb:GetItem",
        "dynamodb:BatchGetItem",
        "dynamodb:Query",
        "dynamodb:Scan",
        "dynamodb:ConditionCheckItem",
        "dynamodb:DescribeTable",
        "dynamodb:GetRecords",
        "dynamodb:GetShardIterator",
    }
)
# The only actions AWS lets no policy scope to a resource; nothing here reads or writes data.
XRAY = frozenset(
    {"xray:PutTraceSegments", "xray:PutTelemetryRecords", "xray:GetSamplingRules", "xray:GetSamplingTargets"}
)
LOG_DELIVERY = frozenset(
    {
        "logs:CreateLogDelivery",
        "logs:GetLogDelivery",
        "logs:UpdateLogDelivery",
        "logs:DeleteLogDelivery",
        "logs:ListLogDeliveries",
        "logs:PutResourcePolicy",
        "logs:DescribeResourcePolicies",
        "logs:DescribeLogGroups",
    }
)

# S3 matches s3:prefix against the requested key when it decides between NoSuchKey and AccessDenied.
STAGED_PLAYS_ONLY = {"StringLike": {"s3:prefix": f"{topology.STAGING_PREFIX}*"}}


def _function(template: dict[str, Any], handler: str) -> dict[str, Any]:
    (function,) = [
        r["Properties"]
        for r in template["Resources"].values()
        if r["Type"] == "AWS::Lambda::Function" and r["Properties"].get("Handler") == handler
    ]
    properties: dict[str, Any] = function
    return properties


class Grants:
    """What a role may do, resource by resource, and lookups of the stack's named resources."""

    def __init__(self, synth: Synthesized, statements: list[Statement]) -> None:
        stack = synth.stacks["dev"]
        self.statements = statements
        self.tables = {f"<{synth.logical_id(t)}.Arn>": key for key, t in stack.data.tables.items()}
        self.staging_bucket = f"<{synth.logical_id(stack.data.staging_bucket)}.Arn>"
        self.staged_plays = f"{self.staging_bucket}/{topology.STAGING_PREFIX}*"
        self.state_machines = {
            f"<{synth.logical_id(machine)}>": operation
            for operation, machine in stack.orchestration.state_machines.items()
        }
        self.executions = {
            "arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:"
            f"{stack.settings.machine_name(operation)}:*": operation
            for operation in topology.OPERATIONS
        }
        self.bus = f"<{synth.logical_id(stack.data.event_bus)}.Arn>"
        self.page_token_key = f"<{synth.logical_id(stack.functions.page_token_key)}>"

    def actions_on(self, resource: str) -> frozenset[str]:
        return frozenset(a for s in self.statements if resource in s.resources for a in s.actions)

    def table_arn(self, key: str) -> str:
        return next(arn for arn, k in self.tables.items() if k == key)


@pytest.mark.parametrize("spec", topology.FUNCTIONS, ids=lambda s: s.name)
def test_a_function_may_touch_only_what_its_description_names(
    synth: Synthesized, spec: topology.FunctionSpec
) -> None:
    template = synth.templates["dev"]
    function = _function(template, spec.handler)
    role = function["Role"]["Fn::GetAtt"][0]
    assert "ManagedPolicyArns" not in template["Resources"][role]["Properties"]
    own_logs = f"<{function['LoggingConfig']['LogGroup']['Ref']}.Arn>"
    grants = Grants(synth, role_statements(template, role))

    for statement in grants.statements:
        assert statement.effect == "Allow"
        assert not any("*" in action for action in statement.actions), statement
        for resource in statement.resources:
            table = grants.tables.get(resource.removesuffix("/index/*"))
            if resource == "*":
                assert statement.actions <= XRAY, statement
            elif resource == own_logs:
                assert statement.actions <= {"logs:CreateLogStream", "logs:PutLogEvents"}
            elif table is not None:
                assert table in spec.tables, f"{spec.name} may not touch the {table} table"
                assert statement.actions <= DDB_READ | DDB_WRITE
                if statement.actions & DDB_WRITE:
                    assert table in spec.writes, f"{spec.name} may not write the {table} table"
            elif resource == grants.staged_plays:
                allowed = {
                    a
                    for a, ok in (("s3:GetObject", spec.reads_staging), ("s3:PutObject", spec.writes_staging))
                    if ok
                }
                assert statement.actions <= allowed, statement
            elif resource == grants.staging_bucket:
                # Listing only what it may read, so a missing staged object is NoSuchKey, not
                # AccessDenied.
                assert spec.reads_staging and statement.actions == {"s3:ListBucket"}, statement
                assert statement.condition == STAGED_PLAYS_ONLY, statement
            elif resource in grants.state_machines:
                assert spec.starts_saga and statement.actions == {"states:StartExecution"}
            elif resource in grants.executions:
                assert spec.starts_saga or spec.describes_executions
                assert statement.actions == {"states:DescribeExecution"}
            elif resource == grants.page_token_key:
                assert spec.signs_page_tokens and statement.actions == {"secretsmanager:GetSecretValue"}
            elif resource == grants.bus:
                assert spec.publishes_events and statement.actions == {"events:PutEvents"}, statement
            else:
                raise AssertionError(f"{spec.name} is granted an unexpected resource: {resource}")

    # And everything it needs to work is there.
    assert grants.actions_on(own_logs) == {"logs:CreateLogStream", "logs:PutLogEvents"}
    for key in spec.writes:
        assert {"dynamodb:BatchWriteItem", "dynamodb:UpdateItem"} <= grants.actions_on(grants.table_arn(key))
    for key in spec.tables:
        assert {"dynamodb:GetItem", "dynamodb:Query"} <= grants.actions_on(grants.table_arn(key))
        if topology.ENTITY_OR_LEDGER[key].indexes:
            assert "dynamodb:Query" in grants.actions_on(grants.table_arn(key) + "/index/*")
    assert ("s3:GetObject" in grants.actions_on(grants.staged_plays)) == spec.reads_staging
    assert ("s3:PutObject" in grants.actions_on(grants.staged_plays)) == spec.writes_staging
    assert ("s3:ListBucket" in grants.actions_on(grants.staging_bucket)) == spec.reads_staging
    for machine in grants.state_machines:
        assert bool(grants.actions_on(machine)) == spec.starts_saga
    for executions in grants.executions:
        assert bool(grants.actions_on(executions)) == (spec.starts_saga or spec.describes_executions)
    assert bool(grants.actions_on(grants.page_token_key)) == spec.signs_page_tokens
    assert bool(grants.actions_on(grants.bus)) == spec.publishes_events


def test_the_sweeper_may_start_executions_update_the_ledger_read_script_rows_and_publish_and_no_more(
    synth: Synthesized,
) -> None:
    """What recovering an interrupted saga takes: is the play published (the script row), claim an
    attempt (the ledger), start the execution that finishes it; and what publishing the events sagas
    owe takes: put them on the bus, clear the ledger's mark."""
    template = synth.templates["dev"]
    role = _function(template, topology.SWEEPER_FUNCTION.handler)["Role"]["Fn::GetAtt"][0]
    grants = Grants(synth, role_statements(template, role))

    # Recovery finishes a revision's cleanup or a deletion as well as a creation.
    assert len(grants.state_machines) == len(grants.executions) == len(topology.OPERATIONS)
    for machine in grants.state_machines:
        assert grants.actions_on(machine) == {"states:StartExecution"}
    for executions in grants.executions:
        assert grants.actions_on(executions) == {"states:DescribeExecution"}
    assert grants.actions_on(grants.bus) == {"events:PutEvents"}
    assert "dynamodb:UpdateItem" in grants.actions_on(grants.table_arn("ledger"))
    assert "dynamodb:Query" in grants.actions_on(grants.table_arn("ledger") + "/index/*")
    script = grants.actions_on(grants.table_arn("script"))
    assert "dynamodb:GetItem" in script and not script & DDB_WRITE
    for kind in topology.ENTITY_TABLES:
        if kind != "script":
            assert not grants.actions_on(grants.table_arn(kind)), f"the sweeper may touch {kind}"


def _invoked_in_definition(synth: Synthesized, operation: topology.Operation) -> set[str]:
    """The functions the deployed definition's Lambda tasks name, as ``<LogicalId.Arn>``."""
    machine = synth.state_machine(operation)
    substitutions = {key: render(value) for key, value in machine["DefinitionSubstitutions"].items()}
    states = json.loads(topology.substitute(machine["DefinitionString"], substitutions))["States"]
    return {
        state["Parameters"]["FunctionName"]
        for state in states.values()
        if state.get("Resource") == "arn:aws:states:::lambda:invoke"
    }


@pytest.mark.parametrize("operation", topology.OPERATIONS)
def test_a_state_machine_may_invoke_only_the_functions_its_asl_names_update_the_ledger_and_publish(
    synth: Synthesized, operation: topology.Operation
) -> None:
    template = synth.templates["dev"]
    stack = synth.stacks["dev"]
    role = synth.state_machine(operation)["RoleArn"]["Fn::GetAtt"][0]
    grants = Grants(synth, role_statements(template, role))
    arn_of = {name: f"<{synth.logical_id(fn)}.Arn>" for name, fn in stack.functions.saga.items()}
    # Read from the file itself, not from the code that granted them.
    named = set(re.findall(r"\$\{(\w+)FunctionArn\}", topology.MACHINES[operation].file.read_text()))
    assert named and named <= set(arn_of)
    invoked = {arn_of[name] for name in named}
    assert invoked == _invoked_in_definition(synth, operation)

    expected = {
        frozenset({"lambda:InvokeFunction"}): frozenset(invoked),
        frozenset({"dynamodb:UpdateItem"}): frozenset({grants.table_arn("ledger")}),
        frozenset({"events:PutEvents"}): frozenset({grants.bus}),
    }
    for statement in grants.statements:
        assert statement.effect == "Allow"
        if statement.resources == {"*"}:
            assert statement.actions <= LOG_DELIVERY | XRAY, statement
        else:
            assert expected.get(statement.actions) == statement.resources, statement
    granted = {s.actions for s in grants.statements}
    assert set(expected) <= granted
    # The other saga functions are out of its reach.
    for name in set(arn_of) - named:
        assert not grants.actions_on(arn_of[name]), f"the {operation} saga may invoke {name}"


def test_no_two_sagas_share_a_role(synth: Synthesized) -> None:
    roles = {synth.state_machine(operation)["RoleArn"]["Fn::GetAtt"][0] for operation in topology.OPERATIONS}
    assert len(roles) == len(topology.OPERATIONS)


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_no_policy_has_a_wildcard_action_or_a_wildcard_resource_on_data(
    synth: Synthesized, stage: str
) -> None:
    for logical_id, policy in synth.resources("AWS::IAM::Policy", stage).items():
        for raw in policy["Properties"]["PolicyDocument"]["Statement"]:
            statement = Statement.parse(raw)
            assert not any("*" in action for action in statement.actions), (logical_id, statement)
            if "*" in statement.resources:
                assert statement.actions <= LOG_DELIVERY | XRAY, (logical_id, statement)


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_only_aws_service_roles_use_managed_policies(synth: Synthesized, stage: str) -> None:
    managed = {
        logical_id: [render(arn) for arn in role["Properties"]["ManagedPolicyArns"]]
        for logical_id, role in synth.resources("AWS::IAM::Role", stage).items()
        if role["Properties"].get("ManagedPolicyArns")
    }
    api_gateway_logging = (
        "arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs"
    )
    cdk_provider = "arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
    for logical_id, arns in managed.items():
        if arns == [api_gateway_logging]:
            assert logical_id.startswith("ApiRestApiCloudWatchRole")
        else:
            # CDK's own auto-delete-objects provider, present only where objects are auto-deleted.
            assert arns == [cdk_provider] and stage == "dev", (logical_id, arns)
            assert logical_id.startswith("CustomS3AutoDeleteObjectsCustomResourceProviderRole")


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_the_staging_bucket_refuses_plain_http_and_grants_no_one_by_policy(
    synth: Synthesized, stage: str
) -> None:
    (policy,) = synth.resources("AWS::S3::BucketPolicy", stage).values()
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    deny = [s for s in statements if s["Effect"] == "Deny"]
    assert deny and deny[0]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    for allow in (s for s in statements if s["Effect"] == "Allow"):
        # Only CDK's provider that empties a dev bucket on `cdk destroy`.
        assert stage == "dev"
        assert render(allow["Principal"]["AWS"]).startswith(
            "<CustomS3AutoDeleteObjectsCustomResourceProviderRole"
        )


def test_only_this_api_may_invoke_the_api_function(synth: Synthesized) -> None:
    stack = synth.stacks["dev"]
    api_function = synth.logical_id(stack.functions.by_name["Api"])
    rest_api = synth.logical_id(stack.api.rest_api)
    this_api = f"arn:<AWS::Partition>:execute-api:<AWS::Region>:<AWS::AccountId>:<{rest_api}>/"
    permissions = [
        p
        for p in synth.resources("AWS::Lambda::Permission").values()
        if "apigateway" in p["Properties"]["Principal"]
    ]
    assert len(permissions) == len(synth.resources("AWS::ApiGateway::Method"))  # one per route
    for permission in permissions:
        properties = permission["Properties"]
        assert properties["Action"] == "lambda:InvokeFunction"
        assert properties["Principal"] == "apigateway.amazonaws.com"
        assert render(properties["FunctionName"]) == f"<{api_function}.Arn>"
        assert render(properties["SourceArn"]).startswith(this_api)


def test_only_its_schedule_may_invoke_the_sweeper_and_nothing_else_invokes_a_function(
    synth: Synthesized,
) -> None:
    stack = synth.stacks["dev"]
    functions = {f"<{synth.logical_id(f)}.Arn>": name for name, f in stack.functions.by_name.items()}
    others = [
        p["Properties"]
        for p in synth.resources("AWS::Lambda::Permission").values()
        if "apigateway" not in p["Properties"]["Principal"]
    ]
    assert [(functions[render(p["FunctionName"])], p["Principal"]) for p in others] == [
        ("SweepStuckSagas", "events.amazonaws.com")
    ]


def test_statements_render_as_cdk_nag_writes_them() -> None:
    raw = {
        "Effect": "Allow",
        "Action": "s3:GetObject",
        "Resource": {"Fn::Join": ["", [{"Fn::GetAtt": ["Bucket", "Arn"]}, "/plays/*"]]},
    }
    assert Statement.parse(raw) == Statement(
        "Allow", frozenset({"s3:GetObject"}), frozenset({"<Bucket.Arn>/plays/*"})
    )
    assert as_list("x") == ["x"]
