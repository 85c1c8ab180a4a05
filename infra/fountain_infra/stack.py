"""The Fountain stack: data, functions, orchestration, API and monitoring, composed."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from fountain_infra import compliance
from fountain_infra.api import Api
from fountain_infra.data import Data
from fountain_infra.functions import Functions
from fountain_infra.monitoring import Monitoring
from fountain_infra.orchestration import Orchestration
from fountain_infra.settings import Settings
from fountain_saga import topology


def stack_name(settings: Settings) -> str:
    return f"Fountain-{settings.stage}"


class FountainStack(cdk.Stack):
    def __init__(self, scope: Construct, construct_id: str, *, settings: Settings, **kwargs: Any) -> None:
        super().__init__(
            scope,
            construct_id,
            description=f"Fountain ({settings.stage}): plays stored by an orchestrated saga",
            **kwargs,
        )
        self.settings = settings
        self.data = Data(self, "Data", settings=settings)
        self.functions = Functions(self, "Functions", data=self.data, settings=settings)
        self.orchestration = Orchestration(
            self, "Orchestration", functions=self.functions.saga, data=self.data, settings=settings
        )
        # Built after the state machines: it needs their ARNs, the machines need only the saga
        # functions' ARNs, so there is no cycle.
        api_function = self.functions.add(
            topology.API_FUNCTION, state_machines=self.orchestration.state_machines
        )
        self.api = Api(self, "Api", handler=api_function, settings=settings)
        # It starts the executions that finish interrupted sagas.
        self.functions.add(topology.SWEEPER_FUNCTION, state_machines=self.orchestration.state_machines)
        self.monitoring = Monitoring(
            self,
            "Monitoring",
            functions=self.functions.by_name,
            state_machines=self.orchestration.state_machines,
            execution_logs=self.orchestration.execution_log_groups,
            event_bus=self.data.event_bus,
            rest_api=self.api.rest_api,
            settings=settings,
        )
        self._outputs()
        self._log_every_function(settings)
        cdk.Tags.of(self).add("project", "fountain")
        cdk.Tags.of(self).add("stage", settings.stage)

    def _log_every_function(self, settings: Settings) -> None:
        """A log group of the stack's for each function that has none, CDK's own providers included
        (the dev bucket's auto-delete handler).

        Otherwise Lambda creates ``/aws/lambda/<name>`` on the first call: never expiring, and left
        behind by `cdk destroy`. Pointing the function at the group (rather than creating the group
        under that name) also orders them: the group exists before the function can run, and
        goes only after it.
        """
        for resource in self.node.find_all():
            if (
                not isinstance(resource, cdk.CfnResource)
                or resource.cfn_resource_type != "AWS::Lambda::Function"
            ):
                continue
            if isinstance(resource, lambda_.CfnFunction) and resource.logging_config is not None:
                continue
            scope = resource.node.scope
            assert isinstance(scope, Construct), type(scope)  # a resource's scope is a construct
            log_group = logs.LogGroup(
                scope,
                f"{resource.node.id}Logs",
                retention=settings.log_retention,
                removal_policy=settings.removal_policy,
            )
            resource.add_property_override("LoggingConfig.LogGroup", log_group.log_group_name)

    def _outputs(self) -> None:
        outputs = {
            "ApiUrl": (
                self.api.rest_api.url,
                "Stage URL of the API (SigV4-signed requests, service execute-api)",
            ),
            "StateMachineArn": (self.orchestration.state_machine.state_machine_arn, "The create-play saga"),
            "RevisePlayStateMachineArn": (
                self.orchestration.state_machines["revise"].state_machine_arn,
                "The revise-play saga",
            ),
            "DeletePlayStateMachineArn": (
                self.orchestration.state_machines["delete"].state_machine_arn,
                "The delete-play saga",
            ),
            "StagingBucketName": (self.data.staging_bucket.bucket_name, "Claim checks: staged plays"),
            "EventBusName": (
                self.data.event_bus.event_bus_name,
                "PlayCreated, PlayRevised, PlayDeleted, ...",
            ),
            "AlarmTopicArn": (self.monitoring.topic.topic_arn, "Subscribe to receive the alarms"),
            # The e2e suite's FOUNTAIN_TABLE_NAMES, as is.
            "TableNames": (self.to_json_string(self.data.table_names), "Table of each entity and the ledger"),
        }
        for output_id, (value, description) in outputs.items():
            cdk.CfnOutput(self, output_id, value=value, description=description)


def build(app: cdk.App) -> FountainStack:
    """The app's one stack, for the stage and options in its context, checked by cdk-nag."""
    settings = Settings.from_context(app.node)
    stack = FountainStack(app, stack_name(settings), settings=settings)
    compliance.enable_checks(app)
    return stack
