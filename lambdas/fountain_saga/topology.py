"""The one description of the system's resources, read by the local runtime and the CDK app.

Tables, functions (handler paths, environment, the tables each may touch), the staging bucket,
the event bus and the state machine's substitutions are declared here once, so what runs on a
laptop and what deploys to AWS cannot drift apart (tests/infra compares the two).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

STATE_MACHINE_DIR = Path(__file__).resolve().parents[2] / "statemachine"
STATE_MACHINE_FILE = STATE_MACHINE_DIR / "create_play.asl.json"
STATE_MACHINE_NAME = "fountain-create-play"
# The local stack's region (moto's resources are made there).
LOCAL_REGION = "us-east-1"
STAGING_BUCKET_ENV = "STAGING_BUCKET"
# The stage the local server reports in its API Gateway events; no deployment may be named so
# (infra's Settings allows dev and prod), which is how the API knows it is served at the root.
LOCAL_STAGE = "local"
# The API stage's throttle, which the local server applies as well: a token bucket that holds
# THROTTLE_BURST requests and refills at THROTTLE_RATE_PER_SECOND. Each POST starts a saga (16
# states and seven Lambda invocations when it succeeds); these keep a runaway client well inside
# the account's default 1,000 concurrent Lambda executions.
THROTTLE_RATE_PER_SECOND = 50
THROTTLE_BURST = 100
# The Secrets Manager secret whose value keys the HMAC of the API's page tokens (nextToken).
# Empty locally: the API then draws a random key per process.
PAGE_TOKEN_SECRET_ENV = "PAGE_TOKEN_SECRET_ARN"
# Staged plays live under this prefix; the bucket's lifecycle rule and grants name it too.
STAGING_PREFIX = "plays/"
EVENT_BUS_ENV = "EVENT_BUS_NAME"
STATE_MACHINE_ARN_ENV = "STATE_MACHINE_ARN"
FAULT_INJECTION_ENV = "FAULT_INJECTION"
CORS_ORIGINS_ENV = "CORS_ORIGINS"  # the origins browser clients may call the API from, comma-separated
# How long the state machine waits for one step before it gives up and compensates. Longer than
# any saga function's own timeout, so a function is always stopped by Lambda before the saga
# moves on: no step can still be writing while its compensation runs.
STEP_TIMEOUT_ENV = "STEP_TIMEOUT_SECONDS"
STEP_TIMEOUT_MARGIN_SECONDS = 30
METRICS_NAMESPACE = "Fountain"
EVENT_SOURCE = "fountain.plays"

# The seven forward steps, in order; the saga's state names.
FORWARD_STEPS = (
    "CreateScript",
    "CreateActs",
    "CreateScenes",
    "CreateCharacters",
    "CreateDialogue",
    "CreateTransitions",
    "PublishPlay",
)
# The errors a step's handler raises (every other exception is logged and raised as StepFailed):
# their messages are meant for clients, and the state machine keeps only the message of the
# Lambda error envelope, never its stack trace.
HANDLER_ERRORS = (
    "InjectedFault",
    "TransientStoreError",
    "InvalidStepRequest",
    "ScriptMissing",
    "StepOutOfTime",
    "VersionConflict",
    "StepFailed",
)
# What a revision adds after its draft is written: the pivot, which makes the draft the play's
# current version (conditional on the version the revision was based on), then the retriable
# steps that delete the previous version's rows, in the compensation order; each runs the
# Delete<Kind> function of its service on the previous version. They are retried until done and
# never compensated: once the pivot has happened, the saga can only go forward.
REVISE_PIVOT = "SwitchVersion"
# The pivot's compensation, should the pivot itself fail: it puts the previous version back if (and
# only if) this saga had switched it, so an uncertain pivot (a lost response) is undone safely.
REVISE_PIVOT_COMPENSATION = "RestoreVersion"
CLEANUP_STEPS = {
    "CleanUpTransitions": "DeleteTransitions",
    "CleanUpDialogue": "DeleteDialogue",
    "CleanUpCharacters": "DeleteCharacters",
    "CleanUpScenes": "DeleteScenes",
    "CleanUpActs": "DeleteActs",
    "CleanUpScript": "DeleteScript",
}
REVISE_STEPS = (*FORWARD_STEPS[:-1], REVISE_PIVOT, *CLEANUP_STEPS)
# A deletion: the pivot comes first (readers get 410 from then on), then every step is retriable.
DELETE_PIVOT = "MarkDeleting"
DELETE_STEPS = (
    DELETE_PIVOT,
    "DeleteTransitions",
    "DeleteDialogue",
    "DeleteCharacters",
    "DeleteScenes",
    "DeleteActs",
    "DeleteScript",
    "ForgetPlay",
)
# Each forward step's compensation; the chain runs them in reverse order.
COMPENSATIONS = {
    "CreateScript": "DeleteScript",
    "CreateActs": "DeleteActs",
    "CreateScenes": "DeleteScenes",
    "CreateCharacters": "DeleteCharacters",
    "CreateDialogue": "DeleteDialogue",
    "CreateTransitions": "DeleteTransitions",
    "PublishPlay": "UnpublishPlay",
}


Operation = Literal["create", "revise", "delete"]
OPERATIONS: tuple[Operation, ...] = ("create", "revise", "delete")


@dataclass(frozen=True)
class MachineSpec:
    """One saga's state machine: its name (a deployment adds its stage), its ASL file, its steps."""

    operation: Operation
    name: str
    steps: tuple[str, ...]  # the Lambda states a saga of this kind runs forward, in order

    @property
    def file(self) -> Path:
        return STATE_MACHINE_DIR / f"{self.operation}_play.asl.json"


MACHINES: dict[Operation, MachineSpec] = {
    "create": MachineSpec("create", STATE_MACHINE_NAME, FORWARD_STEPS),
    "revise": MachineSpec("revise", "fountain-revise-play", REVISE_STEPS),
    "delete": MachineSpec("delete", "fountain-delete-play", DELETE_STEPS),
}


def machine_arn(create_arn: str, operation: Operation) -> str:
    """The ARN of an operation's state machine, from the create machine's (one deployment names all
    three alike: ``fountain-<operation>-play`` and the same suffix), so one setting finds them all."""
    head, _, name = create_arn.rpartition(":")
    if not name.startswith(STATE_MACHINE_NAME):
        raise ValueError(f"{create_arn} is not a create-play state machine's ARN")
    return f"{head}:{MACHINES[operation].name}{name[len(STATE_MACHINE_NAME) :]}"


@dataclass(frozen=True)
class KeySpec:
    name: str
    type: Literal["S", "N"]


@dataclass(frozen=True)
class IndexSpec:
    name: str
    partition_key: KeySpec
    sort_key: KeySpec
    # Projected besides the keys (INCLUDE): what a listing shows, not the saga's whole record,
    # so the ledger's many small updates stay one write unit per index.
    include: tuple[str, ...] = ()


@dataclass(frozen=True)
class TableSpec:
    key: str  # logical name: "acts", "ledger"
    partition_key: KeySpec
    sort_key: KeySpec | None = None
    indexes: tuple[IndexSpec, ...] = ()
    # DynamoDB's TTL attribute: items whose epoch-seconds value has passed get deleted (eventually:
    # readers must treat them as gone themselves).
    ttl_attribute: str | None = None

    @property
    def env_var(self) -> str:
        return f"{self.key.upper()}_TABLE_NAME"

    @property
    def local_name(self) -> str:
        return f"fountain-{self.key}"


_PLAY_ID = KeySpec("playId", "S")
_SEQ = KeySpec("seq", "N")
# An entity row's partition: "<playId>.<version>", so a play's versions live side by side and a
# revision writes its draft without touching the rows readers see. The script table also holds
# each play's head at "<playId>" alone: the current version and whether the play is being deleted.
_PLAY_VERSION = KeySpec("playVersion", "S")

ENTITY_TABLES: dict[str, TableSpec] = {
    kind: TableSpec(kind, _PLAY_VERSION, _SEQ)
    for kind in ("script", "acts", "scenes", "characters", "dialogue", "transitions")
}
LEDGER_TABLE = TableSpec(
    "ledger",
    _PLAY_ID,
    indexes=(
        IndexSpec(
            "byCreatedAt",
            KeySpec("listKey", "S"),
            KeySpec("createdAt", "S"),
            ("title", "playStatus", "version", "updatedAt"),
        ),
        IndexSpec(
            "byStatus",
            KeySpec("status", "S"),
            KeySpec("createdAt", "S"),
            ("title", "updatedAt", "executionArn"),
        ),
        # Sparse: only a saga that owes its outcome's event has "owes", until the sweeper publishes it.
        IndexSpec("byOwed", KeySpec("owes", "S"), KeySpec("createdAt", "S"), ("status",)),
        # The play's state (COMPLETED, DELETING, ...), which a revision or deletion running on it
        # does not share with its saga's status: GET /plays?status= lists by it.
        IndexSpec(
            "byPlayStatus",
            KeySpec("playStatus", "S"),
            KeySpec("createdAt", "S"),
            ("title", "updatedAt", "version"),
        ),
    ),
)
# Each caller's Idempotency-Key, hashed with the caller, and the play it was first used for; kept
# 24 hours, as Stripe keeps its keys.
IDEMPOTENCY_TABLE = TableSpec("idempotency", KeySpec("key", "S"), ttl_attribute="expiresAt")
TABLES: tuple[TableSpec, ...] = (*ENTITY_TABLES.values(), LEDGER_TABLE, IDEMPOTENCY_TABLE)


@dataclass(frozen=True)
class FunctionSpec:
    name: str  # the state name it serves, e.g. "CreateActs"
    handler: str  # "package.module.function", importable from lambdas/
    service: str  # Powertools service name and the owning service
    writes: tuple[str, ...]  # tables it writes (and reads)
    reads: tuple[str, ...] = ()  # tables it only reads
    reads_staging: bool = False
    writes_staging: bool = False
    starts_saga: bool = False
    describes_executions: bool = False  # reads the saga executions' status (DescribeExecution)
    publishes_events: bool = False  # puts events on the saga's bus (PutEvents)
    signs_page_tokens: bool = False  # reads the page-token key secret (GetSecretValue)
    answers_http: bool = False  # the API's function: its answers carry the CORS headers
    timeout_seconds: int = 120
    memory_mb: int = 1024
    extra_env: dict[str, str] = field(default_factory=dict)

    @property
    def placeholder(self) -> str:
        """The ASL's ${...} name for this function's ARN."""
        return f"{self.name}FunctionArn"

    def environment(
        self,
        table_names: dict[str, str],
        bucket: str,
        *,
        fault_injection: bool,
        state_machine_arn: str = "",
        page_token_secret_arn: str = "",
        cors_origins: tuple[str, ...] = (),
    ) -> dict[str, str]:
        env = {
            "POWERTOOLS_SERVICE_NAME": self.service,
            "POWERTOOLS_METRICS_NAMESPACE": METRICS_NAMESPACE,
            FAULT_INJECTION_ENV: "enabled" if fault_injection else "disabled",
            **{ENTITY_OR_LEDGER[t].env_var: table_names[t] for t in (*self.writes, *self.reads)},
            **self.extra_env,
        }
        if self.reads_staging or self.writes_staging:
            env[STAGING_BUCKET_ENV] = bucket
        if self.starts_saga:
            env[STATE_MACHINE_ARN_ENV] = state_machine_arn
            env[STEP_TIMEOUT_ENV] = str(step_timeout_seconds())
        if self.signs_page_tokens:
            env[PAGE_TOKEN_SECRET_ENV] = page_token_secret_arn
        if self.answers_http and cors_origins:
            env[CORS_ORIGINS_ENV] = ",".join(cors_origins)
        return env

    @property
    def tables(self) -> tuple[str, ...]:
        return (*self.writes, *self.reads)


ENTITY_OR_LEDGER: dict[str, TableSpec] = {t.key: t for t in TABLES}

_ENTITY_HANDLERS = "fountain_saga.entities.handlers"
_SERVICE_OF_STEP = {
    "Script": "script",
    "Acts": "acts",
    "Scenes": "scenes",
    "Characters": "characters",
    "Dialogue": "dialogue",
    "Transitions": "transitions",
}


def _entity_functions() -> tuple[FunctionSpec, ...]:
    functions: list[FunctionSpec] = []
    for suffix, kind in _SERVICE_OF_STEP.items():
        functions.append(
            FunctionSpec(
                f"Create{suffix}", f"{_ENTITY_HANDLERS}.create_{kind}", kind, (kind,), reads_staging=True
            )
        )
        functions.append(FunctionSpec(f"Delete{suffix}", f"{_ENTITY_HANDLERS}.delete_{kind}", kind, (kind,)))
    functions.append(FunctionSpec("PublishPlay", f"{_ENTITY_HANDLERS}.publish_play", "script", ("script",)))
    functions.append(
        FunctionSpec("UnpublishPlay", f"{_ENTITY_HANDLERS}.unpublish_play", "script", ("script",))
    )
    # The script service keeps each play's head: these move it for revisions and deletions.
    for name, handler in (
        (REVISE_PIVOT, "switch_version"),
        (REVISE_PIVOT_COMPENSATION, "restore_version"),
        (DELETE_PIVOT, "mark_deleting"),
        ("ForgetPlay", "forget_play"),
    ):
        functions.append(FunctionSpec(name, f"{_ENTITY_HANDLERS}.{handler}", "script", ("script",)))
    return tuple(functions)


SAGA_FUNCTIONS: tuple[FunctionSpec, ...] = _entity_functions()
# The HTTP API: starts sagas (ledger, staging, StartExecution) and reads plays back.
API_FUNCTION = FunctionSpec(
    "Api",
    "fountain_saga.api.handlers.handler",
    "api",
    writes=("ledger", "idempotency"),
    reads=tuple(ENTITY_TABLES),
    writes_staging=True,
    starts_saga=True,
    signs_page_tokens=True,
    answers_http=True,
    timeout_seconds=29,  # API Gateway's integration timeout
    memory_mb=1024,
)
STUCK_AFTER_ENV = "STUCK_AFTER_MINUTES"
RECOVERY_ATTEMPTS_ENV = "MAX_RECOVERY_ATTEMPTS"
# Beyond this many lost recoveries a saga is an operator's: whatever loses them would lose more.
MAX_RECOVERY_ATTEMPTS = 3
# Every few minutes (a schedule in the deployed stack): recovers sagas RUNNING or COMPENSATING
# whose execution is gone (it failed, timed out or was stopped without the ledger ending, or it
# never started), and counts those it cannot act on, as metrics with alarms, so none is forgotten.
# It reads the script row (was the play published?), counts its attempts on the ledger and starts
# the execution that finishes the saga. It also publishes the events sagas owe (the state machine
# could not put them on the bus) and clears the ledger's mark.
SWEEPER_FUNCTION = FunctionSpec(
    "SweepStuckSagas",
    "fountain_saga.saga.handlers.sweep_stuck_sagas",
    "sweeper",
    writes=("ledger",),
    reads=("script",),
    starts_saga=True,
    describes_executions=True,
    publishes_events=True,
    timeout_seconds=60,
    memory_mb=256,
    extra_env={STUCK_AFTER_ENV: "15", RECOVERY_ATTEMPTS_ENV: str(MAX_RECOVERY_ATTEMPTS)},
)
FUNCTIONS: tuple[FunctionSpec, ...] = (*SAGA_FUNCTIONS, API_FUNCTION, SWEEPER_FUNCTION)
# How often the sweeper runs: a schedule in the deployed stack, a timer in the local server.
SWEEP_EVERY_MINUTES = 5


def aws_region() -> str:
    """The region this process works in, as the AWS SDKs resolve it; the local stack's if none.

    AWS_REGION (what Lambda sets), AWS_DEFAULT_REGION, then the `region` of the profile in use
    (~/.aws/config): a user whose region is only in their profile must not be sent to us-east-1.
    """
    from botocore.exceptions import ProfileNotFound

    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    if not region:
        try:
            region = configured_region()
        except ProfileNotFound:
            region = None  # left for the first AWS client to report, as it would without this
    return region or LOCAL_REGION


def configured_region() -> str | None:
    """The region of the AWS profile in use, if it names one; ProfileNotFound if there is no such profile."""
    import botocore.session

    region = botocore.session.get_session().get_config_variable("region")
    return str(region) if region else None


def compensation_timeout_seconds() -> int:
    """How long the state machine waits for one compensation: always the deployment's figure.

    A shorter forward step timeout (an operator's or a test's choice) never applies to them: a
    compensation must finish, and one that deletes a large play in pieces would start over from
    its first row on every retry and never fit.
    """
    return step_timeout_seconds()


def saga_function_timeout_seconds() -> int:
    """The longest timeout of a saga function: when Lambda ends a step at the latest."""
    return max(f.timeout_seconds for f in SAGA_FUNCTIONS)


def step_timeout_seconds() -> int:
    return saga_function_timeout_seconds() + STEP_TIMEOUT_MARGIN_SECONDS


def function(name: str) -> FunctionSpec:
    return next(f for f in FUNCTIONS if f.name == name)


def state_machine_substitutions(
    function_arns: dict[str, str], table_names: dict[str, str], event_bus_name: str
) -> dict[str, str]:
    """Values for every ${...} placeholder of the ASL file."""
    return {
        **{f.placeholder: function_arns[f.name] for f in SAGA_FUNCTIONS},
        "LedgerTableName": table_names["ledger"],
        "EventBusName": event_bus_name,
    }


def substitute(definition: str, substitutions: dict[str, str]) -> str:
    """Fill ${...} placeholders as CloudFormation's DefinitionSubstitutions does."""
    for key, value in substitutions.items():
        definition = definition.replace("${" + key + "}", value)
    return definition
