"""The create-play saga: the ASL file, inlined with its substitutions, on a STANDARD state
machine whose role may invoke the saga's functions, update the ledger and publish to the bus."""

from __future__ import annotations

from collections.abc import Mapping

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from fountain_infra import naming
from fountain_infra.compliance import acknowledge
from fountain_infra.data import Data
from fountain_infra.settings import Settings
from fountain_saga import topology


class Orchestration(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        functions: Mapping[str, lambda_.IFunction],
        data: Data,
        settings: Settings,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = cdk.Stack.of(self)
        self.execution_logs = logs.LogGroup(
            self,
            "ExecutionLogs",
            # The /aws/vendedlogs/ prefix keeps Step Functions' log delivery from growing the
            # account's CloudWatch Logs resource policy, which is capped at 5,120 characters; that
            # prefix needs an explicit name, and a prod group outlives its stack, hence the
            # deployment's id at the end.
            log_group_name=naming.unique_name(
                self, f"/aws/vendedlogs/states/{stack.stack_name}", topology.STATE_MACHINE_NAME
            ),
            retention=settings.log_retention,
            removal_policy=settings.removal_policy,
        )
        substitutions = topology.state_machine_substitutions(
            {name: fn.function_arn for name, fn in functions.items()},
            data.table_names,
            data.event_bus.event_bus_name,
        )
        self.state_machine = sfn.StateMachine(
            self,
            "CreatePlay",
            state_machine_name=settings.state_machine_name,
            state_machine_type=sfn.StateMachineType.STANDARD,
            # from_string (not from_file) inlines the ASL, so template tests and cfn-lint see it.
            definition_body=sfn.DefinitionBody.from_string(topology.STATE_MACHINE_FILE.read_text()),
            definition_substitutions=substitutions,
            # Execution data is ids, counts, the claim check and failures, never a play's text.
            logs=sfn.LogOptions(
                destination=self.execution_logs, level=sfn.LogLevel.ALL, include_execution_data=True
            ),
            tracing_enabled=True,
        )
        # The ASL names its resources through substitutions, which CDK cannot see: grant them here.
        self.state_machine.add_to_role_policy(
            iam.PolicyStatement(
                actions=["lambda:InvokeFunction"],
                resources=[fn.function_arn for fn in functions.values()],
            )
        )
        self.state_machine.add_to_role_policy(
            iam.PolicyStatement(actions=["dynamodb:UpdateItem"], resources=[data.tables["ledger"].table_arn])
        )
        data.event_bus.grant_put_events_to(self.state_machine)
        acknowledge(
            self.state_machine.role,
            "AwsSolutions-IAM5[Resource::*]",
            "'*' appears only where AWS allows nothing narrower: the CloudWatch Logs log-delivery "
            "actions Step Functions needs to log (logs:CreateLogDelivery and the like have no "
            "resource-level permissions) and X-Ray's PutTraceSegments/PutTelemetryRecords/"
            "GetSampling* for tracing. The Lambda, DynamoDB and EventBridge actions name their "
            "resources.",
        )
