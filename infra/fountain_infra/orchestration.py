"""The sagas: create, revise and delete, each its ASL file inlined with its substitutions on a
STANDARD state machine whose role may invoke the functions that file names, update the ledger
and publish to the bus; beyond that, only logging and tracing."""

from __future__ import annotations

import re
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

PLACEHOLDER = re.compile(r"\$\{(\w+)\}")
LEDGER_PLACEHOLDER = "LedgerTableName"
BUS_PLACEHOLDER = "EventBusName"


def machine_construct_id(operation: topology.Operation) -> str:
    """``CreatePlay``, ``RevisePlay``, ``DeletePlay``: CreatePlay is what the create machine was
    always called, and a changed construct id would replace it (and its running executions)."""
    return f"{operation.capitalize()}Play"


def _log_group_id(operation: topology.Operation) -> str:
    # The create machine's group predates the others: renaming it would replace it.
    return "ExecutionLogs" if operation == "create" else f"{machine_construct_id(operation)}ExecutionLogs"


def placeholders(definition: str) -> set[str]:
    """The ${...} names an ASL file leaves to DefinitionSubstitutions."""
    return set(PLACEHOLDER.findall(definition))


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
        self._functions = functions
        self._data = data
        self._settings = settings
        self._substitutions = topology.state_machine_substitutions(
            {name: fn.function_arn for name, fn in functions.items()},
            data.table_names,
            data.event_bus.event_bus_name,
        )
        self.state_machines: dict[topology.Operation, sfn.StateMachine] = {}
        self.execution_log_groups: dict[topology.Operation, logs.LogGroup] = {}
        for operation, machine in topology.MACHINES.items():
            self._add(operation, machine)

    @property
    def state_machine(self) -> sfn.StateMachine:
        """The create-play machine, whose ARN the functions are given."""
        return self.state_machines["create"]

    @property
    def execution_logs(self) -> logs.LogGroup:
        return self.execution_log_groups["create"]

    def _add(self, operation: topology.Operation, machine: topology.MachineSpec) -> None:
        settings = self._settings
        definition = machine.file.read_text()
        names = placeholders(definition)
        unknown = names - set(self._substitutions)
        if unknown:
            raise ValueError(f"{machine.file.name} names {sorted(unknown)}, which the stack does not provide")
        execution_logs = logs.LogGroup(
            self,
            _log_group_id(operation),
            # The /aws/vendedlogs/ prefix keeps Step Functions' log delivery from growing the
            # account's CloudWatch Logs resource policy, which is capped at 5,120 characters; that
            # prefix needs an explicit name, and a prod group outlives its stack, hence the
            # deployment's id at the end.
            log_group_name=naming.unique_name(
                self, f"/aws/vendedlogs/states/{cdk.Stack.of(self).stack_name}", machine.name
            ),
            retention=settings.log_retention,
            removal_policy=settings.removal_policy,
        )
        state_machine = sfn.StateMachine(
            self,
            machine_construct_id(operation),
            state_machine_name=settings.machine_name(operation),
            state_machine_type=sfn.StateMachineType.STANDARD,
            # from_string (not from_file) inlines the ASL, so template tests and cfn-lint see it.
            definition_body=sfn.DefinitionBody.from_string(definition),
            # Only what this file names: a substitution it does not use would read as a resource
            # the machine touches.
            definition_substitutions={k: v for k, v in self._substitutions.items() if k in names},
            # Execution data is ids, counts, the claim check and failures, never a play's text.
            logs=sfn.LogOptions(
                destination=execution_logs, level=sfn.LogLevel.ALL, include_execution_data=True
            ),
            tracing_enabled=True,
        )
        # The ASL names its resources through substitutions, which CDK cannot see: grant them here,
        # and only those this machine's file names, so a revision cannot publish a play nor a
        # deletion create one.
        invoked = [
            self._functions[spec.name].function_arn
            for spec in topology.SAGA_FUNCTIONS
            if spec.placeholder in names
        ]
        if invoked:
            state_machine.add_to_role_policy(
                iam.PolicyStatement(actions=["lambda:InvokeFunction"], resources=invoked)
            )
        if LEDGER_PLACEHOLDER in names:
            state_machine.add_to_role_policy(
                iam.PolicyStatement(
                    actions=["dynamodb:UpdateItem"], resources=[self._data.tables["ledger"].table_arn]
                )
            )
        if BUS_PLACEHOLDER in names:
            self._data.event_bus.grant_put_events_to(state_machine)
        acknowledge(
            state_machine.role,
            "AwsSolutions-IAM5[Resource::*]",
            "'*' appears only where AWS allows nothing narrower: the CloudWatch Logs log-delivery "
            "actions Step Functions needs to log (logs:CreateLogDelivery and the like have no "
            "resource-level permissions) and X-Ray's PutTraceSegments/PutTelemetryRecords/"
            "GetSampling* for tracing. The Lambda, DynamoDB and EventBridge actions name their "
            "resources.",
        )
        self.state_machines[operation] = state_machine
        self.execution_log_groups[operation] = execution_logs
