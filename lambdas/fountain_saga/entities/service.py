"""What every entity service does, once: create its rows for a play, and undo that.

The six services differ only in their table and record shape, so one piece of code serves all
of them, parameterised by the entity kind. Handlers call these functions; tests call them too.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from fountain_saga.entities.batch_store import batch_write, delete_requests, dynamodb_client, put_requests
from fountain_saga.entities.deadline import Deadline
from fountain_saga.entities.models import ENTITY_MODELS, ScriptRow
from fountain_saga.entities.records import Item, item_from_record, key_of
from fountain_saga.saga.claim_check import PlayRef, load_records
from fountain_saga.saga.faults import FaultPlan, fail, fail_compensation, fault_for

PLAY_ID_PATTERN = re.compile(r"^[0-9a-f]{32}$")
SCRIPT_SEQ = 0


class InvalidStepRequest(ValueError):
    """The state machine sent an event this step cannot act on (a bug, not a transient fault)."""


class ScriptMissing(Exception):
    """PublishPlay found no script row written by this saga."""


@dataclass(frozen=True)
class StepRequest:
    play_id: str
    saga_id: str
    counts: dict[str, int]
    play: PlayRef | None = None
    fault: FaultPlan | None = None
    timeout_seconds: float = 0
    attempt: int = 0  # Step Functions' retry count for this state: 0 on the first attempt

    @classmethod
    def from_event(cls, event: dict[str, Any]) -> StepRequest:
        try:
            play_id = str(event["playId"])
            if not PLAY_ID_PATTERN.match(play_id):
                raise InvalidStepRequest(f"malformed playId {play_id!r}")
            play = event.get("play")
            return cls(
                play_id=play_id,
                saga_id=str(event["sagaId"]),
                counts={str(k): int(v) for k, v in dict(event.get("counts") or {}).items()},
                play=PlayRef.from_event(play) if play else None,
                fault=FaultPlan.from_event(event.get("fault")),
                timeout_seconds=float(event.get("stepTimeoutSeconds") or 0),
                attempt=int(event.get("attempt") or 0),
            )
        except (KeyError, TypeError, ValueError) as error:
            if isinstance(error, InvalidStepRequest):
                raise
            raise InvalidStepRequest(f"bad step event: {error}") from error


@dataclass(frozen=True)
class StepResult:
    step: str
    rows: int
    write_requests: int
    extra: dict[str, Any] = field(default_factory=dict)

    def to_event(self) -> dict[str, Any]:
        return {"step": self.step, "rows": self.rows, "writeRequests": self.write_requests, **self.extra}


def create_entities(
    kind: str, step: str, request: StepRequest, deadline: Deadline | None = None
) -> StepResult:
    """Write every staged record of this kind; running it twice leaves the same rows as once.

    With a ``deadline`` (a handler's), it stops with StepOutOfTime rather than start a batch
    that could end after it.
    """
    deadline = deadline or Deadline.unbounded(step)
    fault = fault_for(request.fault, step)
    if fault and fault.mode == "before":
        fail(fault, "nothing written")
    if request.play is None:
        raise InvalidStepRequest(f"{step} needs the staged play reference")
    records = load_records(request.play, kind)
    table = ENTITY_MODELS[kind].Meta.table_name
    if fault:  # "partial" fails after part of the rows, "timeout" hangs there past the state's timeout
        written = records[: max(1, len(records) // 2)] if records else []
        batch_write(
            table,
            put_requests(_items(kind, request, written)),
            fence=deadline.fence(len(records), f"{kind} rows written"),
        )
        fail(
            fault,
            f"{len(written)} of {len(records)} {kind} rows written",
            timeout_seconds=request.timeout_seconds,
        )
    calls = batch_write(
        table,
        put_requests(_items(kind, request, records)),
        fence=deadline.fence(len(records), f"{kind} rows written"),
    )
    return StepResult(step, len(records), calls)


def _items(kind: str, request: StepRequest, records: list[dict[str, Any]]) -> Iterator[Item]:
    # Encoded as the batches go out, not all first: see batch_store.batch_write.
    return (item_from_record(kind, request.play_id, request.saga_id, r) for r in records)


def delete_entities(
    kind: str, step: str, request: StepRequest, deadline: Deadline | None = None
) -> StepResult:
    """Remove every row the forward step could have written; nothing to undo is a success.

    Keys are (play id, seq) with seq < the staged count, so the keys alone say what to delete:
    no read is needed, and a partial or repeated forward write is covered all the same.
    """
    if kind not in request.counts:
        raise InvalidStepRequest(f"{step} needs the count of {kind} records")
    count = request.counts[kind]
    fail_compensation(
        request.fault, step, request.attempt, f"up to {count} {kind} rows of play {request.play_id}"
    )
    table = ENTITY_MODELS[kind].Meta.table_name
    # Fenced too, so no step of the saga acts after its state ended: a late delete would change
    # the tables behind a ledger that already recorded what the compensation left. What an
    # attempt that stopped leaves, the next attempt (or an operator's resume) removes.
    deadline = deadline or Deadline.unbounded(step)
    calls = batch_write(
        table,
        delete_requests(key_of(request.play_id, seq) for seq in range(count)),
        fence=deadline.fence(count, f"{kind} rows deleted"),
    )
    return StepResult(step, count, calls)


def publish_play(step: str, request: StepRequest, deadline: Deadline | None = None) -> StepResult:
    """Lift the semantic lock: the script becomes ACTIVE, and readers see the play."""
    fault = fault_for(request.fault, step)
    if fault and fault.mode == "before":
        fail(fault, "script left PENDING")
    (deadline or Deadline.unbounded(step)).ensure("script left PENDING")
    _set_script_status(request, "ACTIVE", require_saga=True)
    if fault:
        fail(fault, "script marked ACTIVE", timeout_seconds=request.timeout_seconds)
    return StepResult(step, 1, 1)


def unpublish_play(step: str, request: StepRequest, deadline: Deadline | None = None) -> StepResult:
    """Put the lock back before the rows go, so no reader sees a play being taken apart."""
    fail_compensation(request.fault, step, request.attempt, f"the ACTIVE mark on play {request.play_id}")
    (deadline or Deadline.unbounded(step)).ensure(f"the ACTIVE mark on play {request.play_id} left in place")
    changed = _set_script_status(request, "PENDING", require_saga=False)
    return StepResult(step, 1 if changed else 0, 1)


def _set_script_status(request: StepRequest, status: str, *, require_saga: bool) -> bool:
    try:
        dynamodb_client().update_item(
            TableName=ScriptRow.Meta.table_name,
            Key=key_of(request.play_id, SCRIPT_SEQ),
            UpdateExpression="SET #status = :status",
            ConditionExpression="attribute_exists(playId) AND sagaId = :saga",
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues={":status": {"S": status}, ":saga": {"S": request.saga_id}},
        )
    except ClientError as error:
        if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise
        if require_saga:
            raise ScriptMissing(
                f"no script row of play {request.play_id} written by saga {request.saga_id}"
            ) from error
        return False
    return True
