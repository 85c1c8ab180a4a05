"""The topology's Lambda functions, each with a role and a log group of its own and exactly
the grants its description (``topology.FunctionSpec``) asks for."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from fountain_infra import bundling
from fountain_infra.compliance import acknowledge, arn_of
from fountain_infra.data import STAGED_PLAYS_PREFIX, Data
from fountain_infra.settings import Settings
from fountain_saga import topology

# Set only in a deployed function: the local runtime keeps Powertools quiet its own way
# (runtime.LOCAL_PROCESS_ENV). tests/infra holds the template to exactly these extra names.
DEPLOYED_ONLY_ENV = ("POWERTOOLS_LOG_LEVEL",)


class Functions(Construct):
    """The saga's functions; ``add`` builds the API's once the state machine (its input) exists."""

    def __init__(self, scope: Construct, construct_id: str, *, data: Data, settings: Settings) -> None:
        super().__init__(scope, construct_id)
        self._data = data
        self._settings = settings
        self._code = bundling.code_asset()
        self.layer = lambda_.LayerVersion(
            self,
            "Dependencies",
            code=bundling.layer_asset(),
            compatible_runtimes=[bundling.RUNTIME],
            compatible_architectures=[bundling.ARCHITECTURE],
            description="Third-party packages of the Fountain handlers (boto3 comes with the runtime)",
            removal_policy=settings.removal_policy,
        )
        self.by_name: dict[str, lambda_.Function] = {}
        for spec in topology.SAGA_FUNCTIONS:
            self.add(spec)

    @property
    def saga(self) -> dict[str, lambda_.Function]:
        return {spec.name: self.by_name[spec.name] for spec in topology.SAGA_FUNCTIONS}

    def add(
        self, spec: topology.FunctionSpec, *, state_machine: sfn.StateMachine | None = None
    ) -> lambda_.Function:
        if spec.starts_saga and state_machine is None:
            raise ValueError(f"{spec.name} starts sagas: pass the state machine")
        role = iam.Role(
            self,
            f"{spec.name}Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"Fountain {spec.name}: its own log group, tables and staged objects only",
        )
        log_group = logs.LogGroup(
            self,
            f"{spec.name}Logs",
            retention=self._settings.log_retention,
            removal_policy=self._settings.removal_policy,
        )
        # Instead of AWSLambdaBasicExecutionRole, which may write to any log group of the account.
        log_group.grant_write(role)
        function = lambda_.Function(
            self,
            spec.name,
            runtime=bundling.RUNTIME,
            architecture=bundling.ARCHITECTURE,
            code=self._code,
            handler=spec.handler,
            layers=[self.layer],
            role=role,
            log_group=log_group,
            tracing=lambda_.Tracing.ACTIVE,
            timeout=cdk.Duration.seconds(spec.timeout_seconds),
            memory_size=spec.memory_mb,
            environment=self.environment(spec, state_machine),
            description=f"Fountain {spec.service} service: {spec.name}",
        )
        self._grant(spec, function, state_machine)
        acknowledge(
            role,
            "AwsSolutions-IAM5[Resource::*]",
            "X-Ray active tracing: xray:PutTraceSegments and xray:PutTelemetryRecords (added by CDK "
            "for Tracing.ACTIVE) support no resource-level permissions, so their resource must be '*'; "
            "they carry no data access.",
        )
        acknowledge(
            function,
            "AwsSolutions-L1",
            "python3.12 is the runtime the code and its layer are built for (the layer's wheels are "
            "cp312, and tests run the same code); moving to a newer runtime is a deliberate upgrade "
            "of layer and code together, not a synth-time default.",
        )
        self.by_name[spec.name] = function
        return function

    def environment(
        self, spec: topology.FunctionSpec, state_machine: sfn.StateMachine | None
    ) -> dict[str, str]:
        env = spec.environment(
            self._data.table_names,
            self._data.staging_bucket.bucket_name,
            fault_injection=self._settings.fault_injection,
            state_machine_arn=state_machine.state_machine_arn if state_machine else "",
        )
        return {**env, "POWERTOOLS_LOG_LEVEL": self._settings.log_level}

    def _grant(
        self, spec: topology.FunctionSpec, function: lambda_.Function, state_machine: sfn.StateMachine | None
    ) -> None:
        role = function.role
        assert role is not None  # built above
        tables = self._data.tables
        for key in spec.writes:
            # FunctionSpec.writes is documented as "tables it writes (and reads)".
            tables[key].grant_read_write_data(function)
        for key in spec.reads:
            tables[key].grant_read_data(function)
        for key in spec.tables:
            if topology.ENTITY_OR_LEDGER[key].indexes:
                acknowledge(
                    role,
                    f"AwsSolutions-IAM5[Resource::{arn_of(tables[key])}/index/*]",
                    f"CDK's table grant covers the {key} table's own global secondary indexes "
                    f"({', '.join(i.name for i in topology.ENTITY_OR_LEDGER[key].indexes)}), which "
                    "listing plays queries; the wildcard cannot reach beyond that one table.",
                )
        staged_plays = self._data.staging_bucket.arn_for_objects(f"{STAGED_PLAYS_PREFIX}*")
        if spec.reads_staging:
            function.add_to_role_policy(
                iam.PolicyStatement(actions=["s3:GetObject"], resources=[staged_plays])
            )
        if spec.writes_staging:
            function.add_to_role_policy(
                iam.PolicyStatement(actions=["s3:PutObject"], resources=[staged_plays])
            )
        if spec.reads_staging or spec.writes_staging:
            acknowledge(
                role,
                f"AwsSolutions-IAM5[Resource::{arn_of(self._data.staging_bucket)}/{STAGED_PLAYS_PREFIX}*]",
                "Staged plays are keyed plays/<playId>/<content hash>/<kind>.json, named at request "
                "time; the grant is one action on that prefix of the stack's own staging bucket.",
            )
        if spec.starts_saga and state_machine is not None:
            state_machine.grant_start_execution(function)
        if spec.starts_saga or spec.describes_executions:
            # A retried request reads back the input of the execution it may already have started;
            # the sweeper reads whether a stuck saga's execution still runs.
            executions = cdk.Stack.of(self).format_arn(
                service="states",
                resource="execution",
                resource_name=f"{self._settings.state_machine_name}:*",
                arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
            )
            function.add_to_role_policy(
                iam.PolicyStatement(actions=["states:DescribeExecution"], resources=[executions])
            )
            acknowledge(
                role,
                f"AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:"
                f"execution:{self._settings.state_machine_name}:*]",
                "Execution names are chosen per request (create-<playId>); the wildcard covers only "
                "the executions of this stack's own state machine, for DescribeExecution.",
            )
