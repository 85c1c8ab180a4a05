"""The saga ledger: one item per play, holding the play and its latest saga.

The play: its title, its state (``playStatus``), its current version and that version's counts.
The saga: its operation (create, revise, delete), status, each step's status and the failures.
The intake writes the item (conditionally: it doubles as the idempotency record of a create,
and as the lock that lets one saga at a time act on a play); from then on the state machine
updates it through DynamoDB service integrations, so entity functions never need access to it.
When a new saga starts on a play, the intake first keeps the finished one as an item of its
own ("<playId>#<sagaNo>"), which no listing index holds: ``GET /plays/{id}/sagas`` reads them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from pynamodb.attributes import MapAttribute, NumberAttribute, UnicodeAttribute
from pynamodb.exceptions import PutError, UpdateError
from pynamodb.indexes import GlobalSecondaryIndex, IncludeProjection
from pynamodb.models import Model

from fountain_saga.topology import (
    COMPENSATIONS,
    FORWARD_STEPS,
    LEDGER_TABLE,
    MACHINES,
    REVISE_PIVOT_COMPENSATION,
    SAGA_FUNCTIONS,
    Operation,
    aws_region,
)

SagaStatus = Literal[
    "RUNNING", "COMPLETED", "COMPENSATING", "ROLLED_BACK", "COMPENSATION_FAILED", "CLEANUP_PENDING"
]
SAGA_STATUSES: tuple[SagaStatus, ...] = (
    "RUNNING",
    "COMPLETED",
    "COMPENSATING",
    "ROLLED_BACK",
    "COMPENSATION_FAILED",
    "CLEANUP_PENDING",
)
TERMINAL_STATUSES = frozenset({"COMPLETED", "ROLLED_BACK", "COMPENSATION_FAILED", "CLEANUP_PENDING"})
# A saga that ended so: another may start on its play. The others hold the play until an
# operator's resume finishes them (their rows may be half-written or half-deleted).
RELEASED_STATUSES = frozenset({"COMPLETED", "ROLLED_BACK"})
# The play's own state, which a revision running on it does not change until its pivot.
PlayStatus = Literal["RUNNING", "COMPLETED", "ROLLED_BACK", "COMPENSATION_FAILED", "DELETING", "DELETED"]
PLAY_STATUSES: tuple[PlayStatus, ...] = (
    "RUNNING",
    "COMPLETED",
    "ROLLED_BACK",
    "COMPENSATION_FAILED",
    "DELETING",
    "DELETED",
)
# What a saga says while an execution should be carrying it forward.
UNFINISHED_STATUSES = ("RUNNING", "COMPENSATING")
LIST_KEY = "play"


def timestamp(moment: datetime) -> str:
    """The ledger's time format: UTC, milliseconds, "Z" — so createdAt sorts as text in the indexes."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _projection(index_name: str) -> IncludeProjection:
    (index,) = [i for i in LEDGER_TABLE.indexes if i.name == index_name]
    return IncludeProjection(list(index.include))


class ByCreatedAt(GlobalSecondaryIndex["LedgerRow"]):
    class Meta:
        index_name = "byCreatedAt"
        projection = _projection("byCreatedAt")

    list_key = UnicodeAttribute(hash_key=True, attr_name="listKey")
    created_at = UnicodeAttribute(range_key=True, attr_name="createdAt")


class ByStatus(GlobalSecondaryIndex["LedgerRow"]):
    class Meta:
        index_name = "byStatus"
        projection = _projection("byStatus")

    status = UnicodeAttribute(hash_key=True)
    created_at = UnicodeAttribute(range_key=True, attr_name="createdAt")


class ByPlayStatus(GlobalSecondaryIndex["LedgerRow"]):
    class Meta:
        index_name = "byPlayStatus"
        projection = _projection("byPlayStatus")

    play_status = UnicodeAttribute(hash_key=True, attr_name="playStatus")
    created_at = UnicodeAttribute(range_key=True, attr_name="createdAt")


class ByOwed(GlobalSecondaryIndex["LedgerRow"]):
    class Meta:
        index_name = "byOwed"
        projection = _projection("byOwed")

    owes = UnicodeAttribute(hash_key=True)
    created_at = UnicodeAttribute(range_key=True, attr_name="createdAt")


# The value of "owes" (the byOwed index's key) on a saga whose outcome's event is still to be published.
OWES_ANNOUNCEMENT = "announcement"


class LedgerRow(Model):
    class Meta:
        table_name = os.environ.get(LEDGER_TABLE.env_var, LEDGER_TABLE.local_name)
        region = aws_region()

    play_id = UnicodeAttribute(hash_key=True, attr_name="playId")
    saga_id = UnicodeAttribute(attr_name="sagaId")
    status = UnicodeAttribute()  # the saga's
    title = UnicodeAttribute()
    # None on a finished saga kept apart (its item is in no listing).
    list_key = UnicodeAttribute(attr_name="listKey", null=True)
    play_status = UnicodeAttribute(attr_name="playStatus", null=True)
    version = NumberAttribute(default=1)
    saga_no = NumberAttribute(attr_name="sagaNo", default=1)
    operation = UnicodeAttribute(default="create")
    # A revision's draft ({version, counts, title}) and the version it replaces ({version, counts}).
    draft = MapAttribute[str, Any](null=True)
    previous = MapAttribute[str, Any](null=True)
    created_at = UnicodeAttribute(attr_name="createdAt")
    updated_at = UnicodeAttribute(attr_name="updatedAt")
    request_hash = UnicodeAttribute(attr_name="requestHash")
    execution_arn = UnicodeAttribute(attr_name="executionArn")
    play_prefix = UnicodeAttribute(attr_name="playPrefix")
    counts = MapAttribute[str, Any]()
    steps = MapAttribute[str, Any]()
    failure = MapAttribute[str, Any](null=True)
    compensation_failure = MapAttribute[str, Any](null=True, attr_name="compensationFailure")
    # A retriable step (after a pivot) that still failed after its retries: the resume finishes it.
    cleanup_failure = MapAttribute[str, Any](null=True, attr_name="cleanupFailure")
    # A fault a test or an operator asked for (step, mode, compensation): why this saga failed.
    injected_fault = MapAttribute[str, Any](null=True, attr_name="injectedFault")
    # When this saga started (a create's is the play's createdAt): how the sweeper ages it.
    started_at = UnicodeAttribute(null=True, attr_name="startedAt")
    # The token of the Idempotency-Key a revision or deletion was asked with (a create's is its
    # play id): a retry of that request finds its saga by it.
    request_token = UnicodeAttribute(null=True, attr_name="requestToken")
    resumed_at = UnicodeAttribute(null=True, attr_name="resumedAt")
    # How many times its execution was found lost and a new one started for it (recovery.py):
    # bounded, so a saga whose recovery keeps failing is left to an operator, not retried forever.
    recovery_attempts = NumberAttribute(null=True, attr_name="recoveryAttempts")
    recovered_at = UnicodeAttribute(null=True, attr_name="recoveredAt")  # the last attempt's
    completed_at = UnicodeAttribute(null=True, attr_name="completedAt")
    ended_at = UnicodeAttribute(null=True, attr_name="endedAt")
    # The event the state machine could not publish when the saga ended (the PutEvents entry, the
    # error, owedAt); the sweeper publishes it and removes both.
    announcement = MapAttribute[str, Any](null=True)
    owes = UnicodeAttribute(null=True)

    by_created_at = ByCreatedAt()
    by_status = ByStatus()
    by_play_status = ByPlayStatus()
    by_owed = ByOwed()


class LedgerConflict(Exception):
    """A ledger item for this play id exists with a different request."""

    def __init__(self, existing: LedgerRow) -> None:
        super().__init__(f"play {existing.play_id} exists with another request")
        self.existing = existing


def open_entry(row: LedgerRow) -> tuple[LedgerRow, bool]:
    """Write the entry unless one exists; return (entry, created). Raise LedgerConflict on a mismatch."""
    try:
        row.save(condition=LedgerRow.play_id.does_not_exist())
        return row, True
    except PutError as error:
        if error.cause_response_code != "ConditionalCheckFailedException":
            raise
    existing = LedgerRow.get(row.play_id, consistent_read=True)
    if existing.request_hash != row.request_hash:
        raise LedgerConflict(existing)
    return existing, False


def claim_recovery(row: LedgerRow, attempt: int, execution_arn: str, now: str) -> bool:
    """Count this recovery attempt and point the entry at the execution about to carry it.

    Conditional on the entry being as ``row`` saw it (status, execution, attempts), so of two
    sweepers that found the same lost execution only one may start another; False for the other.
    """
    seen = row.recovery_attempts
    condition = (LedgerRow.status == row.status) & (LedgerRow.execution_arn == row.execution_arn)
    if seen is None:
        condition &= LedgerRow.recovery_attempts.does_not_exist()
    else:
        condition &= LedgerRow.recovery_attempts == seen
    try:
        row.update(
            actions=[
                LedgerRow.recovery_attempts.set(attempt),
                LedgerRow.execution_arn.set(execution_arn),
                LedgerRow.recovered_at.set(now),
            ],
            condition=condition,
        )
    except UpdateError as error:
        if error.cause_response_code != "ConditionalCheckFailedException":
            raise
        return False
    return True


def get_entry(play_id: str) -> LedgerRow | None:
    try:
        return LedgerRow.get(play_id, consistent_read=True)
    except LedgerRow.DoesNotExist:
        return None


def archive_key(play_id: str, saga_no: int) -> str:
    return f"{play_id}#{saga_no:06d}"


def archive(row: LedgerRow) -> None:
    """Keep a finished saga apart before the next one takes the play's item; idempotent.

    The copy carries the saga's event if it still owes one (and the mark the sweeper finds it
    by), so the item it leaves owes nothing and the event is published once.
    """
    kept = LedgerRow(archive_key(row.play_id, int(row.saga_no)), **_saga_values(row))
    kept.list_key = None
    kept.play_status = None
    kept.save()


def _saga_values(row: LedgerRow) -> dict[str, Any]:
    values = {name: getattr(row, name) for name in LedgerRow.get_attributes() if name != "play_id"}
    return {k: v for k, v in values.items() if v is not None}


def saga_history(
    play_id: str, current: LedgerRow, *, newest: int | None = None, limit: int | None = None
) -> list[LedgerRow]:
    """The play's sagas, newest first, from saga number ``newest`` (default: the current one) down,
    at most ``limit`` of them (default: all): the current one is the play's item, the others
    the copies kept apart, numbered without gaps."""
    latest = int(current.saga_no)
    top = latest if newest is None else min(newest, latest)
    bottom = 1 if limit is None else max(1, top - limit + 1)
    numbers = range(top, bottom - 1, -1)
    keys = [archive_key(play_id, n) for n in numbers if n != latest]
    found = {row.play_id: row for row in LedgerRow.batch_get(keys)} if keys else {}
    rows = (current if n == latest else found.get(archive_key(play_id, n)) for n in numbers)
    return [row for row in rows if row is not None]


@dataclass(frozen=True)
class StepView:
    name: str
    status: str
    started_at: str | None
    ended_at: str | None
    rows: int | None

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "status": self.status,
            "startedAt": self.started_at,
            "endedAt": self.ended_at,
            "rows": self.rows,
        }


def step_views(row: LedgerRow) -> list[StepView]:
    """Each step of the saga's operation and each compensation that ran, with its status.

    The state machine records a step when it ends; the step after the last recorded one is the
    one running now, and the rest are PENDING.
    """
    recorded = plain(row.steps)
    views: list[StepView] = []
    running_marked = row.status not in ("RUNNING",)
    for name in MACHINES[_operation(row)].steps:
        entry = recorded.get(name)
        if entry:
            views.append(_view(name, entry))
        elif not running_marked:
            views.append(StepView(name, "RUNNING", None, None, None))
            running_marked = True
        else:
            views.append(StepView(name, "PENDING", None, None, None))
    if _operation(row) != "delete":
        for name in (*(COMPENSATIONS[f] for f in reversed(FORWARD_STEPS)), REVISE_PIVOT_COMPENSATION):
            if name in recorded:
                views.append(_view(name, recorded[name]))
    return views


def _operation(row: LedgerRow) -> Operation:
    operation = row.operation or "create"
    if operation not in MACHINES:
        raise ValueError(f"unknown saga operation {operation!r}")
    return operation


def _view(name: str, entry: dict[str, Any]) -> StepView:
    rows = entry.get("rows")
    return StepView(
        name,
        str(entry.get("status")),
        entry.get("startedAt"),
        entry.get("endedAt"),
        int(rows) if rows is not None else None,
    )


def plain(value: Any) -> dict[str, Any]:
    """A map attribute (or the nested maps the state machine wrote) as plain dicts."""
    if value is None:
        return {}
    if isinstance(value, MapAttribute):
        value = value.as_dict()
    return {k: (plain(v) if isinstance(v, (MapAttribute, dict)) else v) for k, v in dict(value).items()}


def recorded_counts(row: LedgerRow, kinds: tuple[str, ...]) -> dict[str, int | None]:
    """The rows of each kind the play has now, from what each step recorded: no table is read.

    A kind counts the rows its create step recorded, or none once its compensation ran. Only a
    step that failed part-way leaves rows nobody recorded: that kind is None until compensated.
    """
    recorded = plain(row.steps)
    counts: dict[str, int | None] = {}
    for kind in kinds:
        forward = next(f.name for f in SAGA_FUNCTIONS if f.service == kind and f.name in COMPENSATIONS)
        done, undone = recorded.get(forward) or {}, recorded.get(COMPENSATIONS[forward]) or {}
        if undone.get("status") == "COMPENSATED":
            counts[kind] = 0
        elif done.get("status") == "SUCCEEDED" and done.get("rows") is not None:
            counts[kind] = int(done["rows"])
        elif done.get("status") == "FAILED":
            counts[kind] = None
        else:
            counts[kind] = 0
    return counts


def failure_of(row: LedgerRow) -> dict[str, Any] | None:
    return plain(row.failure) or None


def compensation_failure_of(row: LedgerRow) -> dict[str, Any] | None:
    return plain(row.compensation_failure) or None


def cleanup_failure_of(row: LedgerRow) -> dict[str, Any] | None:
    return plain(row.cleanup_failure) or None


def counts_of(value: Any) -> dict[str, int]:
    return {str(k): int(v) for k, v in plain(value).items()}


def announcement_of(row: LedgerRow) -> dict[str, Any] | None:
    """The event this saga owes, if any: what the state machine would have published."""
    return plain(row.announcement) or None
