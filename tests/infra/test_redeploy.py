"""What real AWS does that a synth does not show: `cdk destroy` leaves retained resources behind,
the next `cdk deploy` must not collide with them, some names are global to an account, and every
log group the stack causes to exist must expire and go (or stay) with the stack."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import pytest

from tests.infra.conftest import Synthesized
from tests.infra.intrinsics import render

STAGES = ["dev", "prod"]
# What `cdk destroy` (or a replacement) leaves in the account.
KEPT = {"Retain", "RetainExceptOnCreate", "Snapshot"}
# The property that fixes each type's physical id, the one its Ref returns; None where AWS always
# generates that id (a REST API's Name, say, is only a label). A retained resource of a type not
# listed here fails the test until someone says which it is.
PHYSICAL_NAME: dict[str, str | None] = {
    "AWS::ApiGateway::Account": None,
    "AWS::ApiGateway::RestApi": None,
    "AWS::CloudWatch::Dashboard": "DashboardName",
    "AWS::DynamoDB::Table": "TableName",
    "AWS::Events::EventBus": "Name",
    "AWS::Events::Rule": "Name",
    "AWS::IAM::ManagedPolicy": "ManagedPolicyName",
    "AWS::IAM::Role": "RoleName",
    "AWS::KMS::Alias": "AliasName",
    "AWS::KMS::Key": None,
    "AWS::Lambda::Function": "FunctionName",
    "AWS::Lambda::LayerVersion": "LayerName",
    "AWS::Logs::LogGroup": "LogGroupName",
    "AWS::S3::Bucket": "BucketName",
    "AWS::SecretsManager::Secret": "Name",
    "AWS::SNS::Topic": "TopicName",
    "AWS::SQS::Queue": "QueueName",
    "AWS::StepFunctions::StateMachine": "StateMachineName",
}
# Names unique across all of an account's regions (a bucket's, across all of S3).
ACCOUNT_WIDE_NAME = {
    "AWS::CloudWatch::Dashboard": "DashboardName",
    "AWS::IAM::Group": "GroupName",
    "AWS::IAM::InstanceProfile": "InstanceProfileName",
    "AWS::IAM::ManagedPolicy": "ManagedPolicyName",
    "AWS::IAM::Role": "RoleName",
    "AWS::IAM::User": "UserName",
    "AWS::S3::Bucket": "BucketName",
}
LOG_RETENTION_DAYS = {"dev": 14, "prod": 90}


@dataclass(frozen=True)
class Deployment:
    """One creation of the stack: where it went, and the ids AWS drew for it."""

    label: str
    stage: str
    region: str = "eu-west-3"

    def pseudo(self, name: str) -> str:
        stack_uuid = uuid.uuid5(uuid.NAMESPACE_URL, f"{self.label}/{self.region}")
        stack = f"Fountain-{self.stage}"
        return {
            "AWS::StackId": f"arn:aws:cloudformation:{self.region}:111122223333:stack/{stack}/{stack_uuid}",
            "AWS::StackName": stack,
            "AWS::Region": self.region,
            "AWS::AccountId": "111122223333",
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
        }[name]


def physical_id(template: dict[str, Any], logical_id: str, deployment: Deployment) -> str:
    resource = template["Resources"][logical_id]
    assert resource["Type"] in PHYSICAL_NAME, f"add {resource['Type']} to PHYSICAL_NAME"
    name = PHYSICAL_NAME[resource["Type"]]
    if name is None or name not in resource.get("Properties", {}):
        # Drawn by CloudFormation or the service: a new one each time the resource is created.
        return f"{logical_id}-{deployment.label}-{deployment.region}"
    return evaluate(resource["Properties"][name], template, deployment)


def evaluate(value: Any, template: dict[str, Any], deployment: Deployment) -> Any:
    """The value CloudFormation would give ``value`` in ``deployment``."""
    if isinstance(value, str | int):
        return value
    if isinstance(value, list):
        return [evaluate(item, template, deployment) for item in value]
    ((function, argument),) = value.items()
    if function == "Ref":
        if argument.startswith("AWS::"):
            return deployment.pseudo(argument)
        return physical_id(template, argument, deployment)
    if function == "Fn::GetAtt":
        return f"{physical_id(template, argument[0], deployment)}.{argument[1]}"
    if function == "Fn::Join":
        separator, parts = argument
        return str(separator).join(str(evaluate(part, template, deployment)) for part in parts)
    if function == "Fn::Split":
        separator, source = argument
        return str(evaluate(source, template, deployment)).split(separator)
    if function == "Fn::Select":
        index, items = argument
        return evaluate(items, template, deployment)[int(index)]
    raise AssertionError(f"teach evaluate {function}")


# -- names ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("stage", STAGES)
def test_what_destroy_leaves_behind_never_blocks_the_next_deploy(synth: Synthesized, stage: str) -> None:
    """A deploy after `cdk destroy` asks for other names than any resource the first one kept."""
    template = synth.templates[stage]
    kept = {
        logical_id: resource
        for logical_id, resource in template["Resources"].items()
        if {resource.get("DeletionPolicy"), resource.get("UpdateReplacePolicy")} & KEPT
    }
    first, second = Deployment("first", stage), Deployment("after-destroy", stage)
    for logical_id in kept:
        assert physical_id(template, logical_id, first) != physical_id(template, logical_id, second), (
            f"{logical_id} keeps its name across deployments: {physical_id(template, logical_id, first)}"
        )
    kinds = {resource["Type"] for resource in kept.values()}
    if stage == "prod":
        # Everything the README says prod keeps was checked.
        assert {
            "AWS::DynamoDB::Table",
            "AWS::S3::Bucket",
            "AWS::Events::EventBus",
            "AWS::Logs::LogGroup",
        } <= kinds
    else:
        # Only API Gateway's account-wide logging role and setting, shared with other APIs.
        assert kinds == {"AWS::IAM::Role", "AWS::ApiGateway::Account"}


@pytest.mark.parametrize("stage", STAGES)
def test_the_bus_and_the_saga_log_are_named_for_each_deployment(synth: Synthesized, stage: str) -> None:
    template = synth.templates[stage]
    stack = synth.stacks[stage]
    deployment = Deployment("first", stage)
    stack_uuid = deployment.pseudo("AWS::StackId").rsplit("/", 1)[1]
    token = stack_uuid.split("-")[0]
    bus = physical_id(template, synth.logical_id(stack.data.event_bus), deployment)
    assert bus == f"Fountain-{stage}-events-{token}"
    # Step Functions' vended-logs prefix stays: outside it, each state machine that logs grows the
    # account's 5,120-character CloudWatch Logs resource policy.
    for operation, group in stack.orchestration.execution_log_groups.items():
        execution_logs = physical_id(template, synth.logical_id(group), deployment)
        assert execution_logs == f"/aws/vendedlogs/states/Fountain-{stage}-fountain-{operation}-play-{token}"


# What the create saga's resources were called before the revise and delete sagas joined it.
CREATE_SAGA_LOGICAL_IDS = {
    "OrchestrationCreatePlayF7F94434": "AWS::StepFunctions::StateMachine",
    "OrchestrationCreatePlayRole5E6BA02E": "AWS::IAM::Role",
    "OrchestrationCreatePlayRoleDefaultPolicyDB64B0BF": "AWS::IAM::Policy",
    "OrchestrationExecutionLogsBB8AB370": "AWS::Logs::LogGroup",
    "MonitoringSagaExecutionsFailed151EA930": "AWS::CloudWatch::Alarm",
    "MonitoringSagaCompensationFailed2E305C9F": "AWS::CloudWatch::Alarm",
    "MonitoringPlayCreatedFilter5E60638C": "AWS::Logs::MetricFilter",
    "MonitoringRolledBackFilterADE36C52": "AWS::Logs::MetricFilter",
    "MonitoringCompensationFailedFilter2131E58E": "AWS::Logs::MetricFilter",
}


@pytest.mark.parametrize("stage", STAGES)
def test_an_update_keeps_the_create_saga_its_log_and_its_alarms(synth: Synthesized, stage: str) -> None:
    """A new logical id, or a new name, would make CloudFormation replace the create machine (and
    stop its running executions) or its log group (losing its history)."""
    template = synth.templates[stage]
    for logical_id, resource_type in CREATE_SAGA_LOGICAL_IDS.items():
        assert template["Resources"].get(logical_id, {}).get("Type") == resource_type, logical_id
    machine = template["Resources"]["OrchestrationCreatePlayF7F94434"]["Properties"]
    assert machine["StateMachineName"] == f"fountain-create-play-{stage}"
    stack = synth.stacks[stage]
    assert synth.logical_id(stack.orchestration.state_machine) == "OrchestrationCreatePlayF7F94434"
    assert synth.logical_id(stack.orchestration.execution_logs) == "OrchestrationExecutionLogsBB8AB370"
    assert template["Outputs"]["StateMachineArn"]["Value"] == {"Ref": "OrchestrationCreatePlayF7F94434"}


@pytest.mark.parametrize("stage", STAGES)
def test_names_global_to_an_account_differ_between_regions(synth: Synthesized, stage: str) -> None:
    """The same stage deployed to two regions of one account."""
    template = synth.templates[stage]
    paris, virginia = Deployment("one", stage, "eu-west-3"), Deployment("one", stage, "us-east-1")
    for logical_id, resource in template["Resources"].items():
        name = ACCOUNT_WIDE_NAME.get(resource["Type"])
        if name is not None and name in resource["Properties"]:
            value = resource["Properties"][name]
            assert evaluate(value, template, paris) != evaluate(value, template, virginia), logical_id
    (dashboard,) = [
        r["Properties"] for r in template["Resources"].values() if r["Type"] == "AWS::CloudWatch::Dashboard"
    ]
    assert render(dashboard["DashboardName"]) == f"fountain-{stage}-<AWS::Region>"


# -- log groups ----------------------------------------------------------------------------------
@pytest.mark.parametrize("stage", STAGES)
def test_every_log_group_expires_and_goes_or_stays_with_the_stages_data(
    synth: Synthesized, stage: str
) -> None:
    groups = synth.resources("AWS::Logs::LogGroup", stage)
    kept = "Retain" if stage == "prod" else "Delete"
    for logical_id, group in groups.items():
        assert group["Properties"].get("RetentionInDays") == LOG_RETENTION_DAYS[stage], logical_id
        assert group["DeletionPolicy"] == group["UpdateReplacePolicy"] == kept, logical_id


@pytest.mark.parametrize("stage", STAGES)
def test_every_function_cdks_own_included_logs_to_a_group_of_the_stack(
    synth: Synthesized, stage: str
) -> None:
    """Without one, Lambda creates /aws/lambda/<name> on the first call: it never expires and
    outlives the stack. A function may name its group (LoggingConfig) or the group may carry the
    function's default name."""
    from fountain_saga import topology

    template = synth.templates[stage]
    deployment = Deployment("first", stage)
    groups = synth.resources("AWS::Logs::LogGroup", stage)
    by_name = {physical_id(template, logical_id, deployment): logical_id for logical_id in groups}
    functions = synth.resources("AWS::Lambda::Function", stage)
    for logical_id, function in functions.items():
        target = function["Properties"].get("LoggingConfig", {}).get("LogGroup")
        default = f"/aws/lambda/{physical_id(template, logical_id, deployment)}"
        group = target["Ref"] if target else by_name.get(default)
        assert group in groups, f"{logical_id} logs to a group the stack does not hold"
    handlers = {f["Properties"].get("Handler") for f in functions.values()}
    assert {f.handler for f in topology.FUNCTIONS} <= handlers
    if stage == "dev":
        # CDK's provider that empties the dev bucket on `cdk destroy` was among them.
        assert len(functions) == len(topology.FUNCTIONS) + 1


@pytest.mark.parametrize("stage", STAGES)
def test_api_gateways_execution_logs_go_to_a_group_of_the_stack(synth: Synthesized, stage: str) -> None:
    template = synth.templates[stage]
    stack = synth.stacks[stage]
    deployment = Deployment("first", stage)
    rest_api = physical_id(template, synth.logical_id(stack.api.rest_api), deployment)
    group_id = synth.logical_id(stack.api.execution_logs)
    # The name API Gateway writes a stage's execution logs to.
    assert physical_id(template, group_id, deployment) == f"API-Gateway-Execution-Logs_{rest_api}/{stage}"
    (stage_id, api_stage), *_ = synth.resources("AWS::ApiGateway::Stage", stage).items()
    assert api_stage["Properties"]["StageName"] == stage
    # It exists before the stage can serve (and log) a request, so API Gateway never creates it.
    assert group_id in api_stage["DependsOn"], stage_id
