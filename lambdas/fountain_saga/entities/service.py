"""What every entity service does, once: create its rows for a version of a play, and delete them.

The six services differ only in their table and record shape, so one piece of code serves all
of them, parameterised by the entity kind. The same delete serves three sagas: it compensates a
create's or a revision's draft, cleans up the version a revision replaced, and deletes a play.
The script service also moves the play's head (``heads``): publishing, the revision's and the
deletion's pivots. Handlers call these functions; tests call them too.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from fountain_saga.entities import heads
from fountain_saga.entities.batch_store import batch_write, delete_requests, dynamodb_client, put_requests
from fountain_saga.entities.deadline import Deadline
from fountain_saga.entities.heads import VersionConflict
from fountain_saga.entities.models import ENTITY_MODELS, ScriptRow
from fountain_saga.entities.records import Item, item_from_record, key_of, partition_of
from fountain_saga.saga.claim_check import PlayRef, load_records
from fountain_saga.saga.faults import FaultPlan, fail, fail_compensation, fault_for

PLAY_ID_PATTERN = re.compile(r"^[0-9a-f]{32}$")
SCRIPT_SEQ = 0

__all__ = ["VersionConflict"]


class InvalidStepRequest(ValueError):
    """The state machine sent an event this step cannot act on (a bug, not a transient fault)."""


class ScriptMissing(Exception):
    """A pivot found no script row of the version it would make current, written by this saga."""


@dataclass(frozen=True)
class StepRequest:
    play_id: str
    saga_id: str
    counts: dict[str, int]
    version: int = 1  # the version this step writes, deletes or makes current
    previous: int | None = None  # a revision's: the version it replaces
    play: PlayRef | None = None
    fault: FaultPlan | None = None
    timeout_seconds: float = 0
    attempt: int = 0  # Step Functions' retry count for this state: 0 on the first attempt
    state: str | None = None  # the state that invoked the function (faults name states)

    @property
    def partition(self) -> str:
        return partition_of(self.play_id, self.version)

    @classmethod
    def from_event(cls, event: dict[str, Any]) -> StepRequest:
        try:
            play_id = str(event["playId"])
            if not PLAY_ID_PATTERN.match(play_id):
                raise InvalidStepRequest(f"malformed playId {play_id!r}")
            play = event.get("play")
            previous = event.get("previous") or {}
            version = int(event.get("version") or 1)
            if version < 1:
                raise InvalidStepRequest(f"version {version} is not a version")
            return cls(
                play_id=play_id,
                saga_id=str(event["sagaId"]),
                counts={str(k): int(v) for k, v in dict(event.get("counts") or {}).items()},
                version=version,
                previous=int(previous["version"]) if previous.get("version") is not None else None,
                play=PlayRef.from_event(play) if play else None,
                fault=FaultPlan.from_event(event.get("fault")),
                timeout_seconds=float(event.get("stepTimeoutSeconds") or 0),
                attempt=int(event.get("attempt") or 0),
                state=str(event["state"]) if event.get("state") else None,
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
    fault = fault_for(request.fault, step, request.attempt)
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
    return (item_from_record(kind, request.partition, request.saga_id, r) for r in records)


def delete_entities(
    kind: str, step: str, request: StepRequest, deadline: Deadline | None = None
) -> StepResult:
    """Remove every row of this kind of one version of the play; nothing to remove is a success.

    Keys are (partition, seq) with seq < the version's count, so the keys alone say what to
    delete: no read is needed, and a partial or repeated forward write is covered all the same.
    """
    if kind not in request.counts:
        raise InvalidStepRequest(f"{step} needs the count of {kind} records")
    count = request.counts[kind]
    what = f"{kind} rows of version {request.version} of play {request.play_id}"
    fail_compensation(request.fault, step, request.attempt, f"up to {count} {what}")
    fault = fault_for(request.fault, step, request.attempt)  # a deletion's or a clean-up's own step
    if fault and fault.mode == "before":
        fail(fault, f"none of {count} {what} deleted")
    table = ENTITY_MODELS[kind].Meta.table_name
    # Fenced too, so no step of the saga acts after its state ended: a late delete would change
    # the tables behind a ledger that already recorded what the compensation left. What an
    # attempt that stopped leaves, the next attempt (or an operator's resume) removes.
    deadline = deadline or Deadline.unbounded(step)
    keys = [key_of(request.partition, seq) for seq in range(count)]
    if fault:
        done = keys[: count // 2]
        batch_write(table, delete_requests(done), fence=deadline.fence(count, f"{kind} rows deleted"))
        fail(fault, f"{len(done)} of {count} {what} deleted", timeout_seconds=request.timeout_seconds)
    calls = batch_write(table, delete_requests(keys), fence=deadline.fence(count, f"{kind} rows deleted"))
    return StepResult(step, count, calls)


def publish_play(step: str, request: StepRequest, deadline: Deadline | None = None) -> StepResult:
    """Lift the semantic lock: the play's head appears at this version, and readers see the play."""

    def publish() -> bool:
        _require_script(request)
        heads.publish(request.play_id, request.version, request.saga_id)
        return True

    return _move_head(
        step, request, deadline, publish, before="play left unpublished", after="play published"
    )


def unpublish_play(step: str, request: StepRequest, deadline: Deadline | None = None) -> StepResult:
    """Put the lock back before the rows go, so no reader sees a play being taken apart."""
    fail_compensation(request.fault, step, request.attempt, f"the head of play {request.play_id}")
    (deadline or Deadline.unbounded(step)).ensure(f"the head of play {request.play_id} left in place")
    changed = heads.unpublish(request.play_id, request.saga_id)
    return StepResult(step, 1 if changed else 0, 1)


def switch_version(step: str, request: StepRequest, deadline: Deadline | None = None) -> StepResult:
    """A revision's pivot: the draft becomes the version readers see, if the play is still at the
    version the revision was based on (VersionConflict otherwise: another change won)."""

    def switch() -> bool:
        _require_script(request)
        heads.switch_version(request.play_id, _previous(step, request), request.version, request.saga_id)
        return True

    return _move_head(
        step,
        request,
        deadline,
        switch,
        before=f"play still at version {request.previous}",
        after=f"play switched to version {request.version}",
    )


def restore_version(step: str, request: StepRequest, deadline: Deadline | None = None) -> StepResult:
    """The pivot's compensation: puts the previous version back only if this saga had switched."""
    fail_compensation(
        request.fault, step, request.attempt, f"version {request.version} of play {request.play_id}"
    )
    (deadline or Deadline.unbounded(step)).ensure(f"play {request.play_id} left as the pivot left it")
    changed = heads.restore_version(
        request.play_id, _previous(step, request), request.version, request.saga_id
    )
    return StepResult(step, 1 if changed else 0, 1)


def mark_deleting(step: str, request: StepRequest, deadline: Deadline | None = None) -> StepResult:
    """A deletion's pivot: readers get 410 from now on; a play never published has nothing to mark."""
    return _move_head(
        step,
        request,
        deadline,
        lambda: heads.mark_deleting(request.play_id, request.saga_id),
        before="play not marked DELETING",
        after="play marked DELETING",
    )


def forget_play(step: str, request: StepRequest, deadline: Deadline | None = None) -> StepResult:
    """A deletion's last step: the head goes, once every row has."""
    return _move_head(
        step,
        request,
        deadline,
        lambda: heads.forget(request.play_id),
        before="head of the play left DELETING",
        after="head of the play removed",
    )


def _move_head(
    step: str,
    request: StepRequest,
    deadline: Deadline | None,
    move: Callable[[], bool],
    *,
    before: str,
    after: str,
) -> StepResult:
    """One forward move of the head: a fault may stop it before or after, and a step with too
    little time left does not start it. One row changed, or none when there was nothing to move."""
    fault = fault_for(request.fault, step, request.attempt)
    if fault and fault.mode == "before":
        fail(fault, before)
    (deadline or Deadline.unbounded(step)).ensure(before)
    changed = move()
    if fault:
        fail(fault, after, timeout_seconds=request.timeout_seconds)
    return StepResult(step, 1 if changed else 0, 1)


def _previous(step: str, request: StepRequest) -> int:
    if request.previous is None:
        raise InvalidStepRequest(f"{step} needs the version the revision replaces")
    return request.previous


def _require_script(request: StepRequest) -> None:
    """A version is made current only once its script row, written by this saga, is there."""
    item = (
        dynamodb_client()
        .get_item(
            TableName=ScriptRow.Meta.table_name,
            Key=key_of(request.partition, SCRIPT_SEQ),
            ConsistentRead=True,
        )
        .get("Item")
    )
    if item is None or item.get("sagaId", {}).get("S") != request.saga_id:
        raise ScriptMissing(
            f"no script row of version {request.version} of play {request.play_id} "
            f"written by saga {request.saga_id}"
        )
