"""Starting a revision or a deletion of a play that exists: the checks, the lock, the execution.

One saga at a time acts on a play. The ledger item is the lock: a new saga takes it with one
conditional write on the saga it found (its number and status, and the version the request was
based on), so of two requests racing for a play exactly one starts a saga; the other is told
why (409, or 412 when the version it was based on is gone). The saga found is kept apart first
(``ledger.archive``), so the play's history stays whole.

A revision is refused at the door as a create is: its text is parsed and every row checked to
fit before anything is written.
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from dataclasses import dataclass
from typing import Any

from pynamodb.exceptions import UpdateError

from fountain_saga.saga import idempotency, ledger
from fountain_saga.saga.claim_check import stage_play
from fountain_saga.saga.faults import FaultPlan, injection_enabled
from fountain_saga.saga.intake import (
    LOCAL_PRINCIPAL,
    FaultInjectionDisabled,
    PlayRequest,
    entity_counts,
    execution_arn,
    execution_input,
    now_iso,
    prepare_play,
    start_execution,
)
from fountain_saga.saga.ledger import LedgerRow
from fountain_saga.topology import MACHINES, STATE_MACHINE_ARN_ENV, Operation, machine_arn


class PlayNotFound(Exception):
    """No play has this id."""


class PlayGone(Exception):
    """The play is deleted, or being deleted."""


class SagaInProgress(Exception):
    """Another saga holds the play, or the play is not in a state this change can start from."""


class PreconditionFailed(Exception):
    """If-Match named a version the play is no longer at."""


@dataclass(frozen=True)
class StartedSaga:
    play_id: str
    saga_id: str
    operation: Operation
    version: int  # the version the saga writes (a revision's draft) or deletes
    play_status: str
    status: str  # the saga's
    execution_arn: str
    replayed: bool


def start_revision(
    play_id: str, request: PlayRequest, *, if_match: int | None = None, state_machine_arn: str | None = None
) -> StartedSaga:
    """Start the revise-play saga; raise PlayRejected, PlayNotFound, PlayGone, SagaInProgress,
    PreconditionFailed, IdempotencyConflict or FaultInjectionDisabled."""
    _check_fault(request.fault, "revise")
    prepared = request.prepared or prepare_play(request.text, request.title)
    entry = _entry(play_id)
    token, replay = _token(play_id, "revise", request.principal, request.idempotency_key, request.digest())
    if replay is not None:
        return replay
    _refuse_gone(entry)
    _check_version(entry, if_match)
    if entry.play_status != "COMPLETED" or entry.status not in ledger.RELEASED_STATUSES:
        raise SagaInProgress(_busy(entry, "revised"))
    document = prepared.document
    saga_no = int(entry.saga_no) + 1
    # Never a number given before, even to a draft that rolled back: its client was told that
    # number in the 202, and a version (an ETag) must name one text for as long as the play lives.
    # The last saga's draft is the highest given, as no revision starts while another runs.
    version = max(int(entry.version), int(ledger.plain(entry.draft).get("version") or 0)) + 1
    counts = entity_counts(document)
    saga_id = f"revise-{play_id}-{saga_no}"
    arn = execution_arn(_machine(state_machine_arn, "revise"), saga_id)
    ref = stage_play(document, play_id, payloads=prepared.payloads)
    draft = {"version": version, "counts": counts, "title": document.script.title}
    previous = {"version": int(entry.version), "counts": ledger.counts_of(entry.counts)}
    raced = _take(
        entry,
        if_match,
        [
            LedgerRow.draft.set(draft),
            LedgerRow.previous.set(previous),
            LedgerRow.play_prefix.set(ref.prefix),
            _fault_action(request.fault),
        ],
        saga_id=saga_id,
        saga_no=saga_no,
        operation="revise",
        arn=arn,
        token=token,
    )
    if raced is not None:
        return raced
    saga_input = {
        **execution_input(play_id, saga_id, "revise", version, counts, document.script.title, request.fault),
        "play": ref.to_event(),
        "previous": previous,
    }
    start_execution(_machine(state_machine_arn, "revise"), saga_id, arn, json.dumps(saga_input))
    return StartedSaga(play_id, saga_id, "revise", version, "COMPLETED", "RUNNING", arn, replayed=False)


def start_deletion(
    play_id: str,
    *,
    principal: str = LOCAL_PRINCIPAL,
    idempotency_key: str | None = None,
    if_match: int | None = None,
    fault: FaultPlan | None = None,
    state_machine_arn: str | None = None,
) -> StartedSaga:
    """Start the delete-play saga; raise PlayNotFound, SagaInProgress, PreconditionFailed,
    IdempotencyConflict or FaultInjectionDisabled.

    Deleting is idempotent: a play deleted, or being deleted, answers with that deletion.
    """
    _check_fault(fault, "delete")
    entry = _entry(play_id)
    digest = hashlib.sha256(json.dumps({"fault": fault.to_event() if fault else None}).encode()).hexdigest()
    token, replay = _token(play_id, "delete", principal, idempotency_key, digest)
    if replay is not None:
        return replay
    if entry.operation == "delete" and entry.play_status in ("DELETING", "DELETED"):
        return _started(entry, replayed=True)
    _check_version(entry, if_match)
    if entry.status not in ledger.RELEASED_STATUSES:
        raise SagaInProgress(_busy(entry, "deleted"))
    saga_no = int(entry.saga_no) + 1
    saga_id = f"delete-{play_id}-{saga_no}"
    arn = execution_arn(_machine(state_machine_arn, "delete"), saga_id)
    raced = _take(
        entry,
        if_match,
        [
            LedgerRow.play_status.set("DELETING"),
            _fault_action(fault),
            LedgerRow.draft.remove(),
            LedgerRow.previous.remove(),
        ],
        saga_id=saga_id,
        saga_no=saga_no,
        operation="delete",
        arn=arn,
        token=token,
    )
    if raced is not None:
        return raced
    version = int(entry.version)
    saga_input = execution_input(
        play_id, saga_id, "delete", version, ledger.counts_of(entry.counts), entry.title, fault
    )
    start_execution(_machine(state_machine_arn, "delete"), saga_id, arn, json.dumps(saga_input))
    return StartedSaga(play_id, saga_id, "delete", version, "DELETING", "RUNNING", arn, replayed=False)


def _check_fault(fault: FaultPlan | None, operation: Operation) -> None:
    if fault is None:
        return
    if not injection_enabled():
        raise FaultInjectionDisabled(
            "fault injection is disabled in this deployment; remove the X-Fountain-Fail-At header"
        )
    if fault.step not in MACHINES[operation].steps:
        raise ValueError(
            f"a {operation} saga has no step {fault.step!r}; "
            f"its steps are {', '.join(MACHINES[operation].steps)}"
        )


def _fault_action(fault: FaultPlan | None) -> Any:
    return LedgerRow.injected_fault.set(fault.to_event()) if fault else LedgerRow.injected_fault.remove()


def _entry(play_id: str) -> LedgerRow:
    entry = ledger.get_entry(play_id)
    if entry is None:
        raise PlayNotFound(f"no play {play_id}")
    return entry


def _refuse_gone(entry: LedgerRow) -> None:
    if entry.play_status in ("DELETING", "DELETED"):
        raise PlayGone(f"play {entry.play_id} is {entry.play_status}")


def _check_version(entry: LedgerRow, if_match: int | None) -> None:
    if if_match is not None and int(entry.version) != if_match:
        raise PreconditionFailed(
            f"play {entry.play_id} is at version {int(entry.version)}, not {if_match}; "
            "read it again (GET gives its ETag) and send that version in If-Match"
        )


def _busy(entry: LedgerRow, change: str) -> str:
    if entry.status not in ledger.TERMINAL_STATUSES:
        return (
            f"play {entry.play_id} has a {entry.operation} saga {entry.status} ({entry.saga_id}); "
            f"it can be {change} once that saga ends"
        )
    if entry.status in ("COMPENSATION_FAILED", "CLEANUP_PENDING"):
        return (
            f"play {entry.play_id}'s {entry.operation} saga ended {entry.status} and must be finished "
            f"first (fountain-saga resume {entry.play_id}, see the runbook)"
        )
    if entry.play_status == "COMPLETED":
        # Another saga took the play and ended between this request's read and its write.
        return f"play {entry.play_id} was changed by another request just now; read it again and retry"
    return f"play {entry.play_id} is {entry.play_status}; only a COMPLETED play can be {change}"


def _take(
    entry: LedgerRow,
    if_match: int | None,
    actions: list[Any],
    *,
    saga_id: str,
    saga_no: int,
    operation: Operation,
    arn: str,
    token: str,
) -> StartedSaga | None:
    """Make the new saga the play's, if the item is still as read (None then); the loser learns
    why, unless what it lost to is its own answer: the saga of this very request (a retry with
    the same Idempotency-Key that got there first), or, for a deletion, another deletion."""
    ledger.archive(entry)
    now = now_iso()
    condition = (
        (LedgerRow.saga_no == entry.saga_no)
        & (LedgerRow.status == entry.status)
        & (LedgerRow.version == entry.version)
    )
    try:
        entry.update(
            actions=[
                *actions,
                LedgerRow.saga_id.set(saga_id),
                LedgerRow.saga_no.set(saga_no),
                LedgerRow.operation.set(operation),
                LedgerRow.status.set("RUNNING"),
                LedgerRow.execution_arn.set(arn),
                LedgerRow.request_token.set(token),
                LedgerRow.steps.set({}),
                LedgerRow.started_at.set(now),
                LedgerRow.updated_at.set(now),
                LedgerRow.failure.remove(),
                LedgerRow.compensation_failure.remove(),
                LedgerRow.cleanup_failure.remove(),
                LedgerRow.completed_at.remove(),
                LedgerRow.ended_at.remove(),
                LedgerRow.resumed_at.remove(),
                LedgerRow.recovery_attempts.remove(),
                LedgerRow.recovered_at.remove(),
                # The archived copy owes the finished saga's event now, if it did.
                LedgerRow.announcement.remove(),
                LedgerRow.owes.remove(),
            ],
            condition=condition,
        )
    except UpdateError as error:
        if error.cause_response_code != "ConditionalCheckFailedException":
            raise
        now_entry = _entry(entry.play_id)
        if now_entry.request_token == token:
            return _started(now_entry, replayed=True)
        if operation == "delete" and now_entry.operation == "delete":
            return _started(now_entry, replayed=True)
        _refuse_gone(now_entry)
        _check_version(now_entry, if_match)
        raise SagaInProgress(_busy(now_entry, "changed")) from error
    return None


def _token(
    play_id: str, operation: Operation, principal: str, key: str | None, digest: str
) -> tuple[str, StartedSaga | None]:
    """The request's token, and the saga it already started if it is a retry of one."""
    if key is None:
        return uuid.uuid4().hex, None
    # Scoped to the play and the operation: one key cannot stand for two kinds of request.
    claim = idempotency.claim(principal, f"{operation}:{play_id}:{key}", digest)
    if claim.first_use:
        return claim.play_id, None
    entry = _entry(play_id)
    for saga in ledger.saga_history(play_id, entry):
        if saga.request_token == claim.play_id:
            return claim.play_id, _started(saga, replayed=True, play=entry)
    # Claimed by a request that died before taking the play: this one carries it on.
    return claim.play_id, None


def _started(saga: LedgerRow, *, replayed: bool, play: LedgerRow | None = None) -> StartedSaga:
    play = play or saga
    draft = ledger.plain(saga.draft)
    version = int(draft.get("version") or saga.version)
    return StartedSaga(
        play.play_id,
        saga.saga_id,
        saga.operation,  # type: ignore[arg-type]
        version,
        str(play.play_status),
        saga.status,
        saga.execution_arn,
        replayed,
    )


def _machine(create_arn: str | None, operation: Operation) -> str:
    return machine_arn(create_arn or os.environ[STATE_MACHINE_ARN_ENV], operation)
