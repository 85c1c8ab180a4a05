"""The local AWS: moto's DynamoDB, S3, EventBridge, Lambda and Step Functions, provisioned
from the same description (``fountain_saga.topology``) that the CDK stack deploys.

Two modes: in-process (``mock_aws``; tests and the one-shot CLI) and a server on 127.0.0.1
(``fountain-saga serve``; the AWS CLI can look inside). Either way the real ASL file runs on
moto's Step Functions engine and each Task runs the real handler in this process.
"""

from __future__ import annotations

import io
import json
import os
import threading
import time
import zipfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

import boto3
from moto import mock_aws
from moto.core.config import DefaultConfig

from fountain_local import lambda_runtime
from fountain_local.dynamodb_engine import DynamoDbEngine, DynamoDbRouter
from fountain_saga import topology

REGION = topology.LOCAL_REGION
ACCOUNT = "123456789012"
LOCAL_BUCKET = "fountain-staging-local"
LOCAL_EVENT_BUS = "fountain-events"
LOCAL_ROLE = "fountain-local-role"
# Locally the bus's events are also kept in a queue, so they can be read back (tests, and
# `aws sqs receive-message` against the local server): what a subscriber would have seen.
LOCAL_EVENT_LOG_QUEUE = "fountain-events-log"
_MOTO_CONFIG: DefaultConfig = {
    "stepfunctions": {"execute_state_machine": True},
    "lambda": {"use_docker": False},
}

# What any process talking to the local AWS needs: dummy credentials, no metadata lookups, and
# Powertools' metrics and tracing off (they would print to stdout and look for X-Ray).
LOCAL_PROCESS_ENV = {
    "AWS_ACCESS_KEY_ID": "local",
    "AWS_SECRET_ACCESS_KEY": "local",
    "AWS_SESSION_TOKEN": "local",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
    "AWS_EC2_METADATA_DISABLED": "true",
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_METRICS_DISABLED": "true",
    "POWERTOOLS_LOG_LEVEL": "WARNING",
}


class RecordingClock:
    """Stands in for ``time`` in moto's retrier: records each backoff and returns at once."""

    def __init__(self) -> None:
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)

    def __getattr__(self, name: str) -> Any:
        return getattr(time, name)


@dataclass
class Resources:
    table_names: dict[str, str]
    bucket: str
    event_bus: str
    function_arns: dict[str, str] = field(default_factory=dict)
    state_machine_arn: str = ""  # the create machine's; topology.machine_arn finds the others
    state_machine_arns: dict[str, str] = field(default_factory=dict)  # every machine's, by operation
    event_log_queue_url: str = ""


def local_table_names() -> dict[str, str]:
    return {t.key: t.local_name for t in topology.TABLES}


def local_state_machine_arn() -> str:
    return f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:{topology.STATE_MACHINE_NAME}"


def function_environments(
    fault_injection: bool, cors_origins: tuple[str, ...] = ()
) -> dict[str, dict[str, str]]:
    names = local_table_names()
    return {
        f.name: f.environment(
            names,
            LOCAL_BUCKET,
            fault_injection=fault_injection,
            state_machine_arn=local_state_machine_arn(),
            cors_origins=cors_origins,
        )
        for f in topology.FUNCTIONS
    }


def merged_environment(fault_injection: bool, cors_origins: tuple[str, ...] = ()) -> dict[str, str]:
    """Every function's environment in one mapping: they run in one process here.

    Names are distinct per table (ACTS_TABLE_NAME, ...), so the union is unambiguous; only
    the Powertools service name differs, and the handlers set it per call through the logger.
    """
    merged: dict[str, str] = {}
    for env in function_environments(fault_injection, cors_origins).values():
        for key, value in env.items():
            if key == "POWERTOOLS_SERVICE_NAME":
                continue
            if merged.setdefault(key, value) != value:
                raise RuntimeError(f"functions disagree on {key}: {merged[key]!r} vs {value!r}")
    return merged


class LocalAws:
    """Start the local AWS, provision every resource, and tear it down on exit."""

    def __init__(
        self,
        *,
        server_port: int | None = None,
        fault_injection: bool = True,
        instant_retries: bool = False,
        step_timeout_seconds: int | None = None,
        dynamodb: DynamoDbEngine | None = None,
        cors_origins: tuple[str, ...] = (),
    ) -> None:
        self.server_port = server_port
        self.cors_origins = cors_origins
        # None: moto's own DynamoDB. An engine: DynamoDB requests go to it (see dynamodb_engine).
        self.dynamodb = dynamodb
        self.fault_injection = fault_injection
        self.clock = RecordingClock() if instant_retries else None
        # Tests shorten the state machine's step timeout to watch it catch a hanging step.
        self.step_timeout_seconds = step_timeout_seconds
        self.resources = Resources(local_table_names(), LOCAL_BUCKET, LOCAL_EVENT_BUS)
        self._mock: Any = None
        self._server: Any = None
        self._saved_env: dict[str, str | None] = {}
        self._saved_clock: Any = None
        self._events: list[dict[str, Any]] = []

    # -- lifecycle -------------------------------------------------------------------------------
    def __enter__(self) -> LocalAws:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def start(self) -> None:
        env = {**LOCAL_PROCESS_ENV, **merged_environment(self.fault_injection, self.cors_origins)}
        if self.step_timeout_seconds is not None:
            env[topology.STEP_TIMEOUT_ENV] = str(self.step_timeout_seconds)
        if self.server_port is not None:
            endpoint = f"http://127.0.0.1:{self.server_port}"
            env.update(AWS_ENDPOINT_URL=endpoint, MOTO_PORT=str(self.server_port))
        if self.dynamodb is not None:
            self.dynamodb.start()
            if self.server_port is None:
                # In-process, moto lets a request to an endpoint it does not know go out for real.
                env["AWS_ENDPOINT_URL_DYNAMODB"] = self.dynamodb.url
        self._set_env(env)
        lambda_runtime.install()
        _stop_tracking_dynamodb_items()
        _parse_each_definition_once()
        _enter_states_at_aws_precision()
        _name_task_failures_as_aws_does()
        if self.clock is not None:
            from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl

            self._saved_clock = vars(retrier_decl)["time"]
            setattr(retrier_decl, "time", self.clock)  # noqa: B010 (moto's module attribute)
        if self.server_port is None:
            self._mock = mock_aws(config=_MOTO_CONFIG)
            self._mock.start()
        else:
            self._start_server(self.server_port)
        self.provision()
        if self.resources.state_machine_arn != local_state_machine_arn():
            raise RuntimeError(f"moto named the state machine {self.resources.state_machine_arn}")

    def stop(self, wait_seconds: float = 120.0) -> None:
        self.wait_for_executions(timeout=wait_seconds)
        if self._mock is not None:
            self._mock.stop()
            self._mock = None
        if self._server is not None:
            self._server.stop()
            self._server = None
        if self.dynamodb is not None:
            self.dynamodb.stop()
        if self._saved_clock is not None:
            from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl

            setattr(retrier_decl, "time", self._saved_clock)  # noqa: B010
            self._saved_clock = None
        for key, value in self._saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        self._saved_env = {}

    def _set_env(self, env: dict[str, str]) -> None:
        for key, value in env.items():
            self._saved_env.setdefault(key, os.environ.get(key))
            os.environ[key] = value

    def _start_server(self, port: int) -> None:
        from moto.core.config import default_user_config

        default_user_config.update(_MOTO_CONFIG)
        self._server = _AwsEndpoint(port, self.dynamodb.url if self.dynamodb else None)
        self._server.start()

    # -- clients and provisioning ----------------------------------------------------------------
    def client(self, service: str) -> Any:
        return boto3.client(service, region_name=REGION)

    def provision(self) -> None:
        provision_tables(self.client("dynamodb"), self.resources.table_names)
        self.client("s3").create_bucket(Bucket=self.resources.bucket)
        self._provision_event_log()
        role = self.client("iam").create_role(RoleName=LOCAL_ROLE, AssumeRolePolicyDocument="{}")["Role"][
            "Arn"
        ]
        lam = self.client("lambda")
        code = _placeholder_zip()
        environments = function_environments(self.fault_injection, self.cors_origins)
        for fn in topology.FUNCTIONS:
            created = lam.create_function(
                FunctionName=fn.name,
                Runtime="python3.12",
                Role=role,
                Handler=fn.handler,
                Code={"ZipFile": code},
                Timeout=fn.timeout_seconds,
                MemorySize=fn.memory_mb,
                Environment={"Variables": environments[fn.name]},
            )
            self.resources.function_arns[fn.name] = created["FunctionArn"]
        substitutions = topology.state_machine_substitutions(
            self.resources.function_arns, self.resources.table_names, self.resources.event_bus
        )
        sfn = self.client("stepfunctions")
        for operation, machine in topology.MACHINES.items():
            definition = topology.substitute(machine.file.read_text(), substitutions)
            self.resources.state_machine_arns[operation] = sfn.create_state_machine(
                name=machine.name, definition=definition, roleArn=role, type="STANDARD"
            )["stateMachineArn"]
        self.resources.state_machine_arn = self.resources.state_machine_arns["create"]

    def _provision_event_log(self) -> None:
        events = self.client("events")
        events.create_event_bus(Name=self.resources.event_bus)
        sqs = self.client("sqs")
        queue_url = sqs.create_queue(QueueName=LOCAL_EVENT_LOG_QUEUE)["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        events.put_rule(
            Name="fountain-events-log",
            EventBusName=self.resources.event_bus,
            EventPattern=json.dumps({"source": [topology.EVENT_SOURCE]}),
        )
        events.put_targets(
            Rule="fountain-events-log",
            EventBusName=self.resources.event_bus,
            Targets=[{"Id": "log", "Arn": queue_arn}],
        )
        self.resources.event_log_queue_url = queue_url

    def published_events(self, play_id: str | None = None) -> list[dict[str, Any]]:
        """Every event published so far (of one play, if given), as EventBridge delivered them.

        The queue is drained into a list kept here, so each call sees all of them, not the rest.
        """
        sqs = self.client("sqs")
        events: list[dict[str, Any]] = []
        while True:
            messages = sqs.receive_message(
                QueueUrl=self.resources.event_log_queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0
            ).get("Messages", [])
            if not messages:
                break
            for message in messages:
                events.append(json.loads(message["Body"]))
                sqs.delete_message(
                    QueueUrl=self.resources.event_log_queue_url, ReceiptHandle=message["ReceiptHandle"]
                )
        self._events.extend(events)
        return [e for e in self._events if play_id is None or e.get("detail", {}).get("playId") == play_id]

    # -- executions ------------------------------------------------------------------------------
    def wait_for_executions(self, timeout: float = 120.0) -> None:
        """Leaving the mock while an execution runs would send its thread to localhost:5000."""
        if self._mock is None and self._server is None:
            return
        sfn = self.client("stepfunctions")
        deadline = time.monotonic() + timeout
        arns = list(self.resources.state_machine_arns.values())
        while arns and time.monotonic() < deadline:
            if not any(
                sfn.list_executions(stateMachineArn=arn, statusFilter="RUNNING").get("executions")
                for arn in arns
            ):
                return
            time.sleep(0.02)


class ExistingTableMismatch(Exception):
    """A table kept from an earlier run has another shape than this version declares."""


def provision_tables(ddb: Any, names: dict[str, str], *, poll_seconds: float = 0.05) -> None:
    """Create every table that does not exist yet, then wait until all are ACTIVE.

    A durable engine keeps the tables of the last run: they are reused when their keys and
    indexes are the ones declared, and refused with a clear message when not (a data directory
    written by another version). Tables start CREATING, as on AWS; all are created before the
    first wait, so the waits overlap.
    """
    existing = set()
    for page in ddb.get_paginator("list_tables").paginate():
        existing.update(page["TableNames"])
    for spec in topology.TABLES:
        definition = table_definition(spec, names[spec.key])
        if names[spec.key] in existing:
            _check_shape(ddb.describe_table(TableName=names[spec.key])["Table"], definition)
        else:
            ddb.create_table(**definition)
    for spec in topology.TABLES:
        while ddb.describe_table(TableName=names[spec.key])["Table"]["TableStatus"] != "ACTIVE":
            time.sleep(poll_seconds)
        if spec.ttl_attribute:
            _enable_ttl(ddb, names[spec.key], spec.ttl_attribute)


def _check_shape(table: dict[str, Any], definition: dict[str, Any]) -> None:
    def shape(described: dict[str, Any]) -> tuple[Any, ...]:
        indexes = sorted(
            (i["IndexName"], tuple((k["AttributeName"], k["KeyType"]) for k in i["KeySchema"]))
            for i in described.get("GlobalSecondaryIndexes", [])
        )
        return tuple((k["AttributeName"], k["KeyType"]) for k in described["KeySchema"]), tuple(indexes)

    if shape(table) != shape(definition):
        raise ExistingTableMismatch(
            f"table {definition['TableName']} in the data directory has other keys or indexes than this "
            "version declares; move that directory away (or serve --in-memory)"
        )


def _enable_ttl(ddb: Any, table: str, attribute: str) -> None:
    from botocore.exceptions import ClientError

    try:
        ddb.update_time_to_live(
            TableName=table, TimeToLiveSpecification={"Enabled": True, "AttributeName": attribute}
        )
    except ClientError as error:
        code = error.response["Error"]["Code"]
        # dynalite has no TTL; the idempotency records it would expire are read as expired anyway.
        # A restart finds it already on where the engine keeps it.
        if code not in ("UnknownOperationException", "ValidationException"):
            raise


class _AwsEndpoint:
    """moto's server on 127.0.0.1, with DynamoDB requests routed to a separate engine if given.

    moto's ThreadedMotoServer, plus the router: it takes no middleware of its own.
    """

    def __init__(self, port: int, dynamodb_url: str | None) -> None:
        self.port = port
        self.dynamodb_url = dynamodb_url
        self._server: Any = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        from moto.moto_server.werkzeug_app import (
            DomainDispatcherApplication,
            MotoRequestHandler,
            create_backend_app,
        )
        from werkzeug.serving import make_server

        app: Any = DomainDispatcherApplication(create_backend_app)
        if self.dynamodb_url:
            app = DynamoDbRouter(app, self.dynamodb_url)
        self._server = make_server(
            "127.0.0.1", self.port, app, threaded=True, request_handler=MotoRequestHandler
        )
        self._thread = threading.Thread(target=self._server.serve_forever, name="local-aws", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join()


class _Untracked(list[Any]):
    def append(self, _instance: Any) -> None:
        pass


def _stop_tracking_dynamodb_items() -> None:
    """Keep moto from holding on to every DynamoDB item version ever written.

    moto records each model instance it creates for its web dashboard, which we never use;
    for DynamoDB that is every item of every write, deleted or overwritten or not. A
    5,000-speech play then leaves ~200,000 objects behind per saga, and the garbage collector,
    walking them all, slows every later request of a long-running local server. moto's reset
    (on leaving the mock) turns tracking back on, so every start turns it off again.
    """
    from moto.dynamodb.models.dynamo_type import Item

    setattr(Item, "instances_tracked", _Untracked())  # noqa: B010 (moto's class attribute)


_parsed_programs: dict[str, Any] = {}
_parse_lock = threading.Lock()


def _parse_each_definition_once() -> None:
    """Let every execution of a state machine share one parsed program (idempotent).

    moto's engine parses the ASL again for each execution: ~0.2 s of this project's 50-state
    definition, more than all the saga's own steps take for a small play. The parsed program is
    a tree of stateless components; what an execution changes (retry attempts, backoff) lives
    in its own environment's heap, keyed by each component's heap key. Those keys are drawn
    lazily, so they are all drawn here, once, before executions on several threads share them.
    """
    from moto.stepfunctions.parser.asl.component.eval_component import EvalComponent
    from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser
    from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker

    def evaluation_entrypoint(worker: Any) -> EvalComponent:
        definition = worker._evaluation_details.state_machine_details.definition
        with _parse_lock:
            program = _parsed_programs.get(definition)
            if program is None:
                program = AmazonStateLanguageParser.parse(definition)[0]
                _draw_heap_keys(program, EvalComponent)
                _parsed_programs[definition] = program
        return program

    setattr(ExecutionWorker, "_get_evaluation_entrypoint", evaluation_entrypoint)  # noqa: B010


def _enter_states_at_aws_precision() -> None:
    """Stamp $$.State.EnteredTime as Step Functions does: UTC, milliseconds, "Z" (idempotent).

    moto writes ``datetime.isoformat()`` (microseconds, "+00:00"); AWS writes
    ``2026-11-29T09:03:30.123Z``. The ledger's updatedAt and each step's startedAt and endedAt are
    that value, so locally they would otherwise differ in format from createdAt and from AWS.
    """
    from moto.stepfunctions.parser.asl.component.state import state

    def state_data(**fields: Any) -> dict[str, Any]:
        entered = datetime.fromisoformat(fields["EnteredTime"]).astimezone(UTC)
        fields["EnteredTime"] = entered.isoformat(timespec="milliseconds").replace("+00:00", "Z")
        return fields

    setattr(state, "StateData", state_data)  # noqa: B010 (moto's module attribute)


def _name_task_failures_as_aws_does() -> None:
    """Give a failed Task the error name and cause Step Functions gives it on AWS (idempotent).

    moto's engine differs in three places the saga's Catch and Retry rules depend on:

    - a function error whose envelope has no ``errorType`` (how Lambda reports a function it
      stopped at its timeout, or that crashed) is ``Lambda.Unknown`` on AWS, with the cause "The
      cause could not be determined because Lambda did not return an error type. Returned payload:
      …"; moto names it ``Exception``;
    - an EventBridge API error (throttling, a missing bus) is ``EventBridge.<code>`` on AWS, a
      TaskFailed a Catch can match; moto makes it ``States.Runtime``, which ends the execution;
    - ``EventBridge.FailedEntry``'s cause is the PutEvents response as text; moto passes a dict.
    """
    from botocore.exceptions import ClientError
    from moto.stepfunctions.parser.api import HistoryEventType, TaskFailedEventDetails
    from moto.stepfunctions.parser.asl.component.common.error_name.custom_error_name import CustomErrorName
    from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import FailureEvent
    from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
        state_task_service_events as events_task,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
        state_task_service_lambda as lambda_task,
    )
    from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails

    def failure(task: Any, env: Any, error: str, cause: str) -> Any:
        details: Any = EventDetails  # a TypedDict moto itself fills with one of its keys
        return FailureEvent(
            env=env,
            error_name=CustomErrorName(error),
            event_type=HistoryEventType.TaskFailed,
            event_details=details(
                taskFailedEventDetails=TaskFailedEventDetails(
                    error=error,
                    cause=cause,
                    resource=task._get_sfn_resource(),
                    resourceType=task._get_sfn_resource_type(),
                )
            ),
        )

    lambda_class = lambda_task.StateTaskServiceLambda
    lambda_from_error = vars(lambda_class).get("_moto_from_error", lambda_class._from_error)

    def from_lambda_error(self: Any, env: Any, ex: Exception) -> Any:
        if isinstance(ex, lambda_eval_utils.LambdaFunctionErrorException):
            try:
                typed = "errorType" in json.loads(ex.payload)
            except (TypeError, ValueError):
                typed = False
            if not typed:
                cause = (
                    "The cause could not be determined because Lambda did not return an error type. "
                    f"Returned payload: {ex.payload}"
                )
                return failure(self, env, "Lambda.Unknown", cause)
        return lambda_from_error(self, env, ex)

    events_class = events_task.StateTaskServiceEvents
    events_from_error = vars(events_class).get("_moto_from_error", events_class._from_error)

    def from_events_error(self: Any, env: Any, ex: Exception) -> Any:
        if isinstance(ex, events_task.SfnFailedEntryCountException):
            return failure(self, env, "EventBridge.FailedEntry", json.dumps(ex.cause))
        if isinstance(ex, ClientError):
            code = ex.response["Error"]["Code"]
            meta = ex.response.get("ResponseMetadata", {})
            details = (
                f"Service: EventBridge; Status Code: {meta.get('HTTPStatusCode')}; Error Code: {code}; "
                f"Request ID: {meta.get('RequestId')}; Proxy: null"
            )
            return failure(self, env, f"EventBridge.{code}", f"{ex.response['Error']['Message']} ({details})")
        return events_from_error(self, env, ex)

    for cls, original, replacement in (
        (lambda_class, lambda_from_error, from_lambda_error),
        (events_class, events_from_error, from_events_error),
    ):
        setattr(cls, "_moto_from_error", original)  # noqa: B010 (kept once, so a second start wraps nothing twice)
        setattr(cls, "_from_error", replacement)  # noqa: B010 (moto's class attribute)


def _draw_heap_keys(program: Any, component_type: type[Any]) -> None:
    seen: set[int] = set()
    pending = [program]
    while pending:
        node = pending.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, component_type):
            _ = node.heap_key
        if isinstance(node, dict):
            pending.extend(node.values())
        elif isinstance(node, (list, tuple, set, frozenset)):
            pending.extend(node)
        elif hasattr(node, "__dict__") and type(node).__module__.startswith("moto."):
            pending.extend(vars(node).values())


def table_definition(spec: topology.TableSpec, name: str) -> dict[str, Any]:
    """CreateTable arguments for a table description (the CDK builds the same from the spec)."""
    keys = [spec.partition_key, *([spec.sort_key] if spec.sort_key else [])]
    attributes = {k.name: k.type for k in keys}
    for index in spec.indexes:
        attributes[index.partition_key.name] = index.partition_key.type
        attributes[index.sort_key.name] = index.sort_key.type
    definition: dict[str, Any] = {
        "TableName": name,
        "KeySchema": [
            {"AttributeName": k.name, "KeyType": kt} for k, kt in zip(keys, ("HASH", "RANGE"), strict=False)
        ],
        "AttributeDefinitions": [{"AttributeName": n, "AttributeType": t} for n, t in attributes.items()],
        "BillingMode": "PAY_PER_REQUEST",
    }
    if spec.indexes:
        definition["GlobalSecondaryIndexes"] = [
            {
                "IndexName": index.name,
                "KeySchema": [
                    {"AttributeName": index.partition_key.name, "KeyType": "HASH"},
                    {"AttributeName": index.sort_key.name, "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "INCLUDE", "NonKeyAttributes": list(index.include)},
            }
            for index in spec.indexes
        ]
    return definition


def _placeholder_zip() -> bytes:
    # moto wants a code archive; the handler runs from the installed package, not from this zip.
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("README.txt", "Handlers run in-process from the fountain_saga package.\n")
    return buffer.getvalue()
