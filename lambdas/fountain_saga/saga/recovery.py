"""What happens to a saga that did not end on its own: find it, and resume it.

A saga ends in COMPENSATION_FAILED when a compensation kept failing after its retries; rows of
the play may remain. Once the cause is fixed, ``resume`` starts a new execution of the same
state machine with a ``resume`` field: it re-enters the compensation chain at the failed step's
own compensation and runs it down to DeleteScript again. Every compensation is idempotent, so
the ones that had already succeeded simply find nothing to undo.

A saga is *interrupted* when the ledger says RUNNING or COMPENSATING but no execution carries it
forward: its execution does not exist (the local AWS restarted: its executions lived in memory,
the tables did not; or the intake died between writing the ledger and starting the saga), or it
ended FAILED, TIMED_OUT or ABORTED before the ledger reached a final state. ``recover`` starts
the resume that finishes it: into the compensation chain, or, when this saga had already
published its play, to record the play COMPLETED (``"finish": "publish"``), so that the state
machine writes the ledger and announces the outcome as it does for every saga. It has two
callers: ``recover_after_restart`` (the local server, as it starts) and ``sweep`` (the deployed
sweeper, every five minutes). Attempts are counted on the ledger and bounded.

(Step Functions' RedriveExecution restarts at the state that failed, which for this machine is
its CompensationFailed Fail state, so it would only fail again; moto has no redrive at all.)
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from fountain_saga.entities.heads import read_head
from fountain_saga.saga import ledger
from fountain_saga.saga.intake import execution_arn, execution_input, sfn_client
from fountain_saga.saga.ledger import LedgerRow
from fountain_saga.topology import (
    FORWARD_STEPS,
    MAX_RECOVERY_ATTEMPTS,
    REVISE_PIVOT,
    REVISE_STEPS,
    machine_arn,
)

# The steps a saga of each kind can be compensated from, in order (a deletion has none: it is
# only ever carried forward).
_COMPENSABLE_STEPS = {"create": FORWARD_STEPS, "revise": REVISE_STEPS[: REVISE_STEPS.index(REVISE_PIVOT) + 1]}

STUCK_STATUSES = ledger.UNFINISHED_STATUSES
DEFAULT_STUCK_AFTER = timedelta(minutes=15)
# The intake starts the execution within the request that wrote the ledger (API Gateway gives it
# 29 s): a saga without one after this long will never get one.
NOT_STARTED_AFTER = timedelta(minutes=5)
# DescribeExecution's answer for an execution that does not exist: never started, or lost.
NOT_STARTED = "NOT_STARTED"
# Execution statuses that leave nothing to carry on a saga whose ledger is not final.
ENDED_STATUSES = ("FAILED", "TIMED_OUT", "ABORTED")

RecoveryAction = Literal["finish", "compensate", "exhausted"]


class CannotResume(Exception):
    """The saga is not in a state an operator should resume (the message says which)."""


@dataclass(frozen=True)
class StuckSaga:
    play_id: str
    operation: str
    status: str
    title: str
    created_at: str
    updated_at: str
    execution_status: str

    def to_json(self) -> dict[str, str]:
        return {
            "playId": self.play_id,
            "operation": self.operation,
            "status": self.status,
            "title": self.title,
            "createdAt": self.created_at,
            "updatedAt": self.updated_at,
            "executionStatus": self.execution_status,
        }


@dataclass(frozen=True)
class Recovery:
    """What was done for one interrupted saga."""

    play_id: str
    operation: str  # the saga's: create, revise or delete
    ledger_status: str  # as found: RUNNING or COMPENSATING
    execution_status: str  # of the execution found lost: NOT_STARTED, FAILED, TIMED_OUT, ABORTED
    action: RecoveryAction  # exhausted: no more attempts, the saga is left to an operator
    attempts: int  # recovery attempts counted on the ledger, this one included
    execution_arn: str | None  # the execution started now; None when exhausted

    def to_json(self) -> dict[str, Any]:
        return {
            "playId": self.play_id,
            "operation": self.operation,
            "ledgerStatus": self.ledger_status,
            "executionStatus": self.execution_status,
            "action": self.action,
            "attempts": self.attempts,
            "executionArn": self.execution_arn,
        }


@dataclass(frozen=True)
class Sweep:
    """One pass of the sweeper over the sagas RUNNING or COMPENSATING."""

    recovered: list[Recovery] = field(default_factory=list)
    exhausted: list[Recovery] = field(default_factory=list)
    # Past the cutoff, but not the sweeper's to act on: an execution still carries them.
    stuck: list[StuckSaga] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "recovered": [r.to_json() for r in self.recovered],
            "exhausted": [r.to_json() for r in self.exhausted],
            "stuck": [s.to_json() for s in self.stuck],
        }


def stuck_sagas(
    older_than: timedelta = DEFAULT_STUCK_AFTER, *, now: datetime | None = None
) -> list[StuckSaga]:
    """Sagas RUNNING or COMPENSATING that started longer ago than ``older_than``."""
    cutoff = ledger.timestamp((now or datetime.now(UTC)) - older_than)
    found = []
    for status in STUCK_STATUSES:
        for row in LedgerRow.by_status.query(status, LedgerRow.created_at < cutoff):
            found.append(_stuck(row, _execution_status(row)))
    return sorted(found, key=lambda saga: saga.created_at)


def _stuck(row: LedgerRow, execution_status: str) -> StuckSaga:
    return StuckSaga(
        row.play_id, row.operation, row.status, row.title, row.created_at, row.updated_at, execution_status
    )


def _execution_status(row: LedgerRow) -> str:
    sfn = sfn_client()
    try:
        status: str = sfn.describe_execution(executionArn=row.execution_arn)["status"]
    except sfn.exceptions.ExecutionDoesNotExist:
        return NOT_STARTED
    return status


def resume(play_id: str, *, state_machine_arn: str) -> str:
    """Start the execution that finishes this play's saga; return its ARN.

    A create's or a revision's compensation is resumed; a revision past its pivot, or a
    deletion, is carried forward to its end (their steps after the pivot are never undone).
    ``state_machine_arn`` is the create machine's; the saga's own is found from it.
    """
    row = ledger.get_entry(play_id)
    if row is None:
        raise CannotResume(f"no play {play_id}")
    status = _execution_status(row)
    if status == "RUNNING":
        raise CannotResume(f"play {play_id} still has a RUNNING execution ({row.execution_arn}); let it end")
    if row.status in ("COMPLETED", "ROLLED_BACK"):
        raise CannotResume(f"play {play_id} is {row.status}: there is nothing to resume")
    machine = machine_arn(state_machine_arn, row.operation)  # type: ignore[arg-type]
    # Each execution needs a name of its own; a second's resolution is plenty for an operator.
    name = f"resume-{row.saga_id}-{datetime.now(UTC):%Y%m%d%H%M%S}"
    resume_field = {"previousStatus": row.status, "executionStatus": status}
    forward = _goes_forward(row)
    if forward:
        resume_field["finish"] = forward
        saga_input = _resume_input(row, resume_field, failure=None)
        sfn_client().start_execution(stateMachineArn=machine, name=name, input=json.dumps(saga_input))
        return execution_arn(machine, name)
    failure = ledger.failure_of(row) or {
        # A saga that stopped without recording a failure (it timed out, was stopped, or never
        # started): compensate everything; what was never written is simply not there to delete.
        "step": _COMPENSABLE_STEPS[row.operation][-1],
        "error": f"Operator.Resume.{status}",
        "cause": f"resumed by an operator: the execution was {status} while the ledger said {row.status}",
    }
    saga_input = _resume_input(row, resume_field, failure=failure)
    sfn_client().start_execution(stateMachineArn=machine, name=name, input=json.dumps(saga_input))
    return execution_arn(machine, name)


def _goes_forward(row: LedgerRow) -> str | None:
    """How a resume of this saga goes forward ("publish", "cleanup", "delete"), or None if it
    compensates. Only a RUNNING create or revision is finished when its pivot had happened: one
    COMPENSATING had recorded its failure, and readers may have seen it being undone."""
    if row.operation == "delete":
        return "delete"
    if row.operation == "revise":
        if row.status == "CLEANUP_PENDING" or (row.status == "RUNNING" and _switched_by(row)):
            return "cleanup"
        return None
    return "publish" if row.status == "RUNNING" and _published_by(row) else None


def _resume_input(
    row: LedgerRow, resume_field: dict[str, str], *, failure: dict[str, Any] | None
) -> dict[str, Any]:
    draft = ledger.plain(row.draft)
    # The saga that stamped the rows and took the lock, not this execution: UnpublishPlay removes
    # only a head of this saga. A revision writes (and compensates) its draft; the others act on
    # the play's version.
    saga_input = {
        **execution_input(
            row.play_id,
            row.saga_id,
            row.operation,  # type: ignore[arg-type]
            int(draft.get("version") or row.version),
            ledger.counts_of(draft["counts"] if draft else row.counts),
            str(draft.get("title") or row.title),
            None,
        ),
        "resume": resume_field,
    }
    if row.operation == "revise":
        previous = ledger.plain(row.previous)
        saga_input["previous"] = {
            "version": int(previous["version"]),
            "counts": ledger.counts_of(previous["counts"]),
        }
    if failure is not None:
        saga_input["failure"] = {k: str(failure.get(k, "")) for k in ("step", "error", "cause")}
    return saga_input


def recover(
    row: LedgerRow,
    execution_status: str,
    *,
    state_machine_arn: str,
    why: str,
    max_attempts: int = MAX_RECOVERY_ATTEMPTS,
) -> Recovery | None:
    """Start the execution that finishes an interrupted saga; None if another caller just did.

    ``why`` (how its execution was lost) goes into the failure the ledger records when the saga
    is compensated.
    """
    attempts = int(row.recovery_attempts or 0)
    if attempts >= max_attempts:
        return Recovery(row.play_id, row.operation, row.status, execution_status, "exhausted", attempts, None)
    found_status = row.status
    finish = _goes_forward(row)
    attempt = attempts + 1
    machine = machine_arn(state_machine_arn, row.operation)  # type: ignore[arg-type]
    # Named by the saga and the attempt, so a start retried after a crash is that execution, not a
    # second one.
    name = f"recover-{row.saga_id}-{attempt}"
    arn = execution_arn(machine, name)
    if not ledger.claim_recovery(row, attempt, arn, ledger.timestamp(datetime.now(UTC))):
        return None
    resume_field = {"previousStatus": found_status, "executionStatus": execution_status}
    failure: dict[str, Any] | None = None
    if finish:
        resume_field["finish"] = finish
    else:
        failure = ledger.failure_of(row) or {
            "step": _interrupted_step(row),
            "error": "Saga.Interrupted",
            "cause": f"{why} while the ledger said {found_status}; compensated by recovery attempt {attempt}",
        }
    saga_input = _resume_input(row, resume_field, failure=failure)
    sfn_client().start_execution(stateMachineArn=machine, name=name, input=json.dumps(saga_input))
    return Recovery(
        row.play_id,
        row.operation,
        found_status,
        execution_status,
        "finish" if finish else "compensate",
        attempt,
        arn,
    )


def _interrupted_step(row: LedgerRow) -> str:
    """The step the saga was in: the first one the ledger has not recorded as done.

    Steps run one after another and each is recorded when it ends, so none after it started:
    the compensation chain enters at this step's own compensation and runs down from there.
    """
    recorded = ledger.plain(row.steps)
    steps = _COMPENSABLE_STEPS[row.operation]
    return next(
        (step for step in steps if (recorded.get(step) or {}).get("status") != "SUCCEEDED"),
        steps[-1],
    )


def _published_by(row: LedgerRow) -> bool:
    """Whether this saga had lifted its lock: PublishPlay runs only once every row is written."""
    head = read_head(row.play_id)
    return head is not None and head.saga_id == row.saga_id


def _switched_by(row: LedgerRow) -> bool:
    """Whether this revision's pivot happened: the head is at its draft, and it moved it there."""
    head = read_head(row.play_id)
    draft = ledger.plain(row.draft)
    return head is not None and head.saga_id == row.saga_id and head.version == int(draft.get("version") or 0)


def _unfinished(older_than: timedelta | None = None, *, now: datetime | None = None) -> list[LedgerRow]:
    """Every saga RUNNING or COMPENSATING (started before ``older_than`` ago), read in full."""
    rows = []
    for status in STUCK_STATUSES:
        if older_than is None:
            listed = LedgerRow.by_status.query(status)
        else:
            cutoff = ledger.timestamp((now or datetime.now(UTC)) - older_than)
            listed = LedgerRow.by_status.query(status, LedgerRow.created_at < cutoff)
        # The index holds what a listing shows; the recovery needs the saga id, counts, failure.
        for listed_row in listed:
            row = ledger.get_entry(listed_row.play_id)
            if row is not None and row.status in STUCK_STATUSES:
                rows.append(row)
    return sorted(rows, key=lambda row: row.created_at)


def recover_after_restart(state_machine_arn: str, log: Callable[[str], None]) -> list[Recovery]:
    """Recover every saga RUNNING or COMPENSATING, of any age, whose execution does not exist.

    For the local server as it starts: the executions of the previous run lived in memory and are
    gone, while the ledger and the tables kept their sagas half-done; nothing else would end them.
    """
    recoveries = []
    for row in _unfinished():
        status = _execution_status(row)
        if status != NOT_STARTED:
            continue
        recovery = recover(
            row,
            status,
            state_machine_arn=state_machine_arn,
            why="its execution was lost when the local AWS restarted",
        )
        if recovery is None:
            continue
        log(_log_line(recovery, "execution gone after a restart"))
        recoveries.append(recovery)
    return recoveries


def _log_line(recovery: Recovery, how: str) -> str:
    found = f"play {recovery.play_id}: ledger {recovery.ledger_status}, {how}"
    if recovery.action == "exhausted":
        return (
            f"not recovering {found}: {recovery.attempts} recovery attempts already made → "
            "left to an operator (fountain-saga resume)"
        )
    finished = {
        "create": "completing: its play had been published",
        "revise": "completing: its new version had been made current",
        "delete": "finishing the deletion",
    }
    outcome = (
        finished.get(recovery.operation, "finishing it") if recovery.action == "finish" else "compensating"
    )
    return f"recovering {found} → {outcome} (attempt {recovery.attempts})"


def sweep(
    state_machine_arn: str,
    *,
    stuck_after: timedelta = DEFAULT_STUCK_AFTER,
    max_attempts: int = MAX_RECOVERY_ATTEMPTS,
    now: datetime | None = None,
) -> Sweep:
    """Recover the sagas no execution carries on; list those stuck with one that still runs.

    A saga whose execution ended is recovered once it is older than ``stuck_after``; one whose
    execution never started, once nothing can still start it (``NOT_STARTED_AFTER`` after the
    intake, or after the last recovery attempt, which may be just about to start its own).
    """
    now = now or datetime.now(UTC)
    overdue = ledger.timestamp(now - stuck_after)
    abandoned = ledger.timestamp(now - NOT_STARTED_AFTER)
    result = Sweep()
    for row in _unfinished(min(stuck_after, NOT_STARTED_AFTER), now=now):
        status = _execution_status(row)
        started = row.started_at or row.created_at
        lost = (status in ENDED_STATUSES and started < overdue) or (
            status == NOT_STARTED and (row.recovered_at or started) < abandoned
        )
        if lost:
            why = "its execution never started" if status == NOT_STARTED else f"its execution ended {status}"
            recovery = recover(
                row, status, state_machine_arn=state_machine_arn, why=why, max_attempts=max_attempts
            )
            if recovery is not None:
                (result.exhausted if recovery.action == "exhausted" else result.recovered).append(recovery)
        elif started < overdue:
            result.stuck.append(_stuck(row, status))
    return result
