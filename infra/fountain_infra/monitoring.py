"""Alarms to one SNS topic, and a dashboard of the sagas.

Alarms: failed executions of each saga (create, revise, delete; a revision or deletion whose
cleanup is pending ends as a failed execution too), any COMPENSATION_FAILED (the one outcome that
leaves a partial play or draft), stuck sagas, sagas the sweeper gave up recovering, each
function's errors and throttles, and API 5XX. A PlayCompensationFailed event also goes to the
topic straight from the bus, with the play id and failure in the message, and so does a
PlayCleanupPending (a revision or deletion whose clean-up waits for the runbook's resume).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import aws_cdk as cdk
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from fountain_infra.orchestration import machine_construct_id
from fountain_infra.settings import Settings
from fountain_saga import topology

PERIOD = cdk.Duration.minutes(5)
# The ASL's terminal states (tests/infra checks that they exist, with these types).
SUCCEEDED_STATE = "PlayCreated"
ROLLED_BACK_STATE = "RolledBack"
COMPENSATION_FAILED_STATE = "CompensationFailed"
CLEANUP_PENDING_STATE = "CleanupPending"
COMPENSATION_FAILED_EVENT = "PlayCompensationFailed"
CLEANUP_PENDING_EVENT = "PlayCleanupPending"
SUCCEED = "SucceedStateEntered"
FAIL = "FailStateEntered"
# What the sweeper reports each run (saga/handlers.py).
STUCK_METRIC = "StuckSagas"
RECOVERED_METRIC = "SagasRecovered"
UNRECOVERABLE_METRIC = "UnrecoverableSagas"
# Events sagas owe (their state machine could not publish them), found, published and left over.
ANNOUNCEMENTS_OWED_METRIC = "AnnouncementsOwed"
ANNOUNCEMENTS_REPUBLISHED_METRIC = "AnnouncementsRepublished"
ANNOUNCEMENTS_STILL_OWED_METRIC = "AnnouncementsStillOwed"


@dataclass(frozen=True)
class Outcome:
    """A terminal state of a saga's ASL, counted from its execution log."""

    state: str
    entered: str  # the execution log's event type when the state is entered
    label: str  # the dashboard's


_ROLLED_BACK = Outcome(ROLLED_BACK_STATE, FAIL, "rolled back")
_COMPENSATION_FAILED = Outcome(COMPENSATION_FAILED_STATE, FAIL, "compensation failed")
_CLEANUP_PENDING = Outcome(CLEANUP_PENDING_STATE, FAIL, "cleanup pending")
OUTCOMES: dict[topology.Operation, tuple[Outcome, ...]] = {
    "create": (Outcome(SUCCEEDED_STATE, SUCCEED, "completed"), _ROLLED_BACK, _COMPENSATION_FAILED),
    "revise": (
        Outcome("PlayRevised", SUCCEED, "revised"),
        _ROLLED_BACK,
        _COMPENSATION_FAILED,
        _CLEANUP_PENDING,
    ),
    "delete": (Outcome("PlayDeleted", SUCCEED, "deleted"), _CLEANUP_PENDING),
}
EXECUTIONS_FAILED: dict[topology.Operation, str] = {
    "create": "A create-play saga failed: rolled back after a step's error, or a compensation failed.",
    "revise": "A revise-play saga failed: rolled back after a step's error (the previous version "
    "stands), a compensation failed, or CLEANUP_PENDING: the revision stands but the previous "
    "version's rows could not all be deleted; the ledger's cleanupFailure names the step.",
    "delete": "A delete-play saga failed: CLEANUP_PENDING, some of the play's rows could not be "
    "deleted (readers already get 410); the ledger's cleanupFailure names the step that kept failing.",
}


def outcome_metric_name(operation: topology.Operation, state: str) -> str:
    # The create saga's metrics kept the names they had before there were other sagas.
    return f"Sagas{state}" if operation == "create" else f"{operation.capitalize()}Sagas{state}"


def _alarm_id(operation: topology.Operation, what: str) -> str:
    # The create saga's alarms keep their construct ids, so an update does not replace them.
    return f"Saga{what}" if operation == "create" else f"{machine_construct_id(operation)}{what}"


def _filter_id(operation: topology.Operation, state: str) -> str:
    # Likewise for the create saga's metric filters.
    return f"{state}Filter" if operation == "create" else f"{operation.capitalize()}{state}Filter"


def sweeper_metric(name: str, *, label: str | None = None) -> cw.Metric:
    # Maximum: each run counts every saga afresh, so a saga left stuck is counted by every run.
    statistic = "Sum" if name in (RECOVERED_METRIC, ANNOUNCEMENTS_REPUBLISHED_METRIC) else "Maximum"
    return cw.Metric(
        namespace=topology.METRICS_NAMESPACE,
        metric_name=name,
        dimensions_map={"service": topology.SWEEPER_FUNCTION.service},
        statistic=statistic,
        period=PERIOD,
        label=label,
    )


class Monitoring(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        functions: Mapping[str, lambda_.IFunction],
        state_machines: Mapping[topology.Operation, sfn.StateMachine],
        execution_logs: Mapping[topology.Operation, logs.ILogGroup],
        event_bus: events.IEventBus,
        rest_api: apigw.RestApi,
        settings: Settings,
    ) -> None:
        super().__init__(scope, construct_id)
        self.topic = self._topic(settings)
        action = cw_actions.SnsAction(self.topic)
        self.alarms: list[cw.Alarm] = []

        def alarm(alarm_id: str, metric: cw.IMetric, description: str) -> None:
            created = cw.Alarm(
                self,
                alarm_id,
                metric=metric,
                threshold=1,
                evaluation_periods=1,
                comparison_operator=cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                treat_missing_data=cw.TreatMissingData.NOT_BREACHING,
                alarm_description=description,
            )
            created.add_alarm_action(action)
            self.alarms.append(created)

        # Terminal states counted from each machine's execution log: ExecutionsFailed alone cannot
        # tell a clean rollback from a compensation that failed or a cleanup left pending.
        outcomes: dict[tuple[topology.Operation, str], logs.MetricFilter] = {
            (operation, outcome.state): logs.MetricFilter(
                self,
                _filter_id(operation, outcome.state),
                log_group=execution_logs[operation],
                metric_namespace=topology.METRICS_NAMESPACE,
                metric_name=outcome_metric_name(operation, outcome.state),
                filter_pattern=logs.FilterPattern.all(
                    logs.FilterPattern.string_value("$.type", "=", outcome.entered),
                    logs.FilterPattern.string_value("$.details.name", "=", outcome.state),
                ),
                metric_value="1",
            )
            for operation, machine_outcomes in OUTCOMES.items()
            for outcome in machine_outcomes
        }
        for operation, state_machine in state_machines.items():
            alarm(
                _alarm_id(operation, "ExecutionsFailed"),
                state_machine.metric_failed(statistic="Sum", period=PERIOD),
                EXECUTIONS_FAILED[operation],
            )
            if _COMPENSATION_FAILED in OUTCOMES[operation]:
                alarm(
                    _alarm_id(operation, "CompensationFailed"),
                    outcomes[operation, COMPENSATION_FAILED_STATE].metric(statistic="Sum", period=PERIOD),
                    f"COMPENSATION_FAILED: a compensation of a {operation}-play saga kept failing, so a "
                    "partial play (or draft) may remain. The ledger names the play and the "
                    "compensation; clean up before retrying.",
                )
        # Each outcome an operator must act on goes to the topic straight from the bus, with the
        # play id and the failure in the message: a compensation that kept failing (a partial play
        # may remain), and a revision or deletion past its pivot whose clean-up keeps failing (the
        # play is as the saga made it, but rows remain and the play is held until the resume).
        for rule_id, detail_type in (
            ("CompensationFailedRule", COMPENSATION_FAILED_EVENT),
            ("CleanupPendingRule", CLEANUP_PENDING_EVENT),
        ):
            events.Rule(
                self,
                rule_id,
                event_bus=event_bus,
                description=f"Forwards every {detail_type} event to the alarm topic",
                event_pattern=events.EventPattern(source=[topology.EVENT_SOURCE], detail_type=[detail_type]),
                targets=[targets.SnsTopic(self.topic)],
            )
        for name, function in functions.items():
            alarm(
                f"{name}Errors",
                function.metric_errors(statistic="Sum", period=PERIOD),
                f"{name} raised errors",
            )
            alarm(
                f"{name}Throttles",
                function.metric_throttles(statistic="Sum", period=PERIOD),
                f"{name} was throttled",
            )
        sweeper = functions.get(topology.SWEEPER_FUNCTION.name)
        if sweeper is not None:
            # The sweeper recovers sagas no execution carries on any more, and counts those it
            # cannot act on; each kind is an alarm of its own, so none is forgotten.
            events.Rule(
                self,
                "SweepStuckSagasSchedule",
                description="Recovers interrupted sagas and counts stuck ones every five minutes",
                schedule=events.Schedule.rate(cdk.Duration.minutes(topology.SWEEP_EVERY_MINUTES)),
                targets=[targets.LambdaFunction(sweeper)],
            )
            alarm(
                "StuckSagas",
                sweeper_metric(STUCK_METRIC),
                "A saga has been RUNNING or COMPENSATING for longer than STUCK_AFTER_MINUTES while its "
                "execution still runs: find it with `fountain-saga stuck` and follow the README's runbook.",
            )
            alarm(
                "UnrecoverableSagas",
                sweeper_metric(UNRECOVERABLE_METRIC),
                "The sweeper lost MAX_RECOVERY_ATTEMPTS recoveries of a saga and stopped trying: the "
                "sweeper's logs name the play; find out what stops its executions, then "
                "`fountain-saga resume` it (see the README's runbook).",
            )
            alarm(
                "AnnouncementsStillOwed",
                sweeper_metric(ANNOUNCEMENTS_STILL_OWED_METRIC),
                "A saga's outcome event (PlayCreated, PlayRevised, PlayDeleted, PlayRolledBack, "
                "PlayCompensationFailed, PlayCleanupPending) could not be put on the bus, by its state "
                "machine nor by the sweeper, which tries again every run. The saga itself ended and its "
                "ledger entry says how; its `announcement` holds the event and the error. Subscribers "
                "have not had it yet: the sweeper's logs say why PutEvents fails.",
            )
        alarm(
            "ApiServerErrors",
            rest_api.metric_server_error(statistic="Sum", period=PERIOD),
            "The API answered 5XX",
        )

        # Dashboards are global to an account: the region keeps one stage's in two regions apart.
        self.dashboard = cw.Dashboard(
            self, "Dashboard", dashboard_name=f"fountain-{settings.stage}-{cdk.Aws.REGION}"
        )
        for operation, state_machine in state_machines.items():
            self.dashboard.add_widgets(
                cw.GraphWidget(
                    title=f"{operation.capitalize()}-play sagas",
                    width=12,
                    left=[
                        state_machine.metric_started(statistic="Sum", period=PERIOD, label="started"),
                        *(
                            outcomes[operation, outcome.state].metric(
                                statistic="Sum", period=PERIOD, label=outcome.label
                            )
                            for outcome in OUTCOMES[operation]
                        ),
                    ],
                ),
                cw.GraphWidget(
                    title=f"{operation.capitalize()}-play saga duration (ms)",
                    width=12,
                    left=[
                        state_machine.metric_time(statistic="Average", period=PERIOD, label="average"),
                        state_machine.metric_time(statistic="p99", period=PERIOD, label="p99"),
                    ],
                ),
            )
        self.dashboard.add_widgets(
            cw.GraphWidget(
                title="Function errors",
                width=12,
                left=[f.metric_errors(statistic="Sum", period=PERIOD, label=n) for n, f in functions.items()],
            ),
            cw.GraphWidget(
                title="Function throttles",
                width=12,
                left=[
                    f.metric_throttles(statistic="Sum", period=PERIOD, label=n) for n, f in functions.items()
                ],
            ),
        )
        self.dashboard.add_widgets(
            cw.GraphWidget(
                title="API",
                width=12,
                left=[
                    rest_api.metric_count(statistic="Sum", period=PERIOD, label="requests"),
                    rest_api.metric_client_error(statistic="Sum", period=PERIOD, label="4XX"),
                    rest_api.metric_server_error(statistic="Sum", period=PERIOD, label="5XX"),
                ],
                right=[rest_api.metric_latency(statistic="p99", period=PERIOD, label="latency p99")],
            ),
            cw.AlarmStatusWidget(title="Alarms", width=12, alarms=list(self.alarms)),
        )
        if sweeper is not None:
            self.dashboard.add_widgets(
                cw.GraphWidget(
                    title="Interrupted sagas (the sweeper)",
                    width=12,
                    left=[
                        sweeper_metric(RECOVERED_METRIC, label="recovered"),
                        sweeper_metric(STUCK_METRIC, label="stuck"),
                        sweeper_metric(UNRECOVERABLE_METRIC, label="beyond recovery"),
                    ],
                ),
            )

    def _topic(self, settings: Settings) -> sns.Topic:
        # A customer-managed key: CloudWatch and EventBridge cannot publish to a topic encrypted
        # with the AWS-managed aws/sns key, whose policy nobody can extend.
        key = kms.Key(
            self,
            "AlarmTopicKey",
            description="Encrypts the Fountain alarm topic",
            enable_key_rotation=True,
            removal_policy=settings.removal_policy,
        )
        topic = sns.Topic(
            self, "AlarmTopic", display_name="Fountain alarms", master_key=key, enforce_ssl=True
        )
        for service in ("cloudwatch.amazonaws.com", "events.amazonaws.com"):
            key.grant(iam.ServicePrincipal(service), "kms:Decrypt", "kms:GenerateDataKey*")
        topic.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudWatchAlarmsPublish",
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["sns:Publish"],
                resources=[topic.topic_arn],
                conditions={"StringEquals": {"aws:SourceAccount": cdk.Aws.ACCOUNT_ID}},
            )
        )
        if settings.alarm_email:
            topic.add_subscription(subscriptions.EmailSubscription(settings.alarm_email))
        return topic
