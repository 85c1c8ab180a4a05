"""What an operator does when a saga did not end on its own: find it, and resume it.

A saga ends in COMPENSATION_FAILED when a compensation kept failing after its retries; rows of
the play may remain. Once the cause is fixed, ``resume`` starts a new execution of the same
state machine with a ``resume`` field: it re-enters the compensation chain at the failed step's
own compensation and runs it down to DeleteScript again. Every compensation is idempotent, so
the ones that had already succeeded simply find nothing to undo.

(Step Functions' RedriveExecution restarts at the state that failed, which for this machine is
its CompensationFailed Fail state, so it would only fail again; moto has no redrive at all.)
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from fountain_saga.saga import ledger
from fountain_saga.saga.intake import execution_arn, sfn_client, step_timeout
from fountain_saga.saga.ledger import LedgerRow
from fountain_saga.topology import FORWARD_STEPS

STUCK_STATUSES = ("RUNNING", "COMPENSATING")
DEFAULT_STUCK_AFTER = timedelta(minutes=15)


class CannotResume(Exception):
    """The saga is not in a state an operator should resume (the message says which)."""


@dataclass(frozen=True)
class StuckSaga:
    play_id: str
    status: str
    title: str
    created_at: str
    updated_at: str
    execution_status: str

    def to_json(self) -> dict[str, str]:
        return {
            "playId": self.play_id,
            "status": self.status,
            "title": self.title,
            "createdAt": self.created_at,
            "updatedAt": self.updated_at,
            "executionStatus": self.execution_status,
        }


def stuck_sagas(
    older_than: timedelta = DEFAULT_STUCK_AFTER, *, now: datetime | None = None
) -> list[StuckSaga]:
    """Sagas RUNNING or COMPENSATING that started longer ago than ``older_than``."""
    cutoff = ledger.timestamp((now or datetime.now(UTC)) - older_than)
    found = []
    for status in STUCK_STATUSES:
        for row in LedgerRow.by_status.query(status, LedgerRow.created_at < cutoff):
            found.append(
                StuckSaga(
                    row.play_id, row.status, row.title, row.created_at, row.updated_at, _execution_status(row)
                )
            )
    return sorted(found, key=lambda saga: saga.created_at)


def _execution_status(row: LedgerRow) -> str:
    sfn = sfn_client()
    try:
        status: str = sfn.describe_execution(executionArn=row.execution_arn)["status"]
    except sfn.exceptions.ExecutionDoesNotExist:
        return "NOT_STARTED"
    return status


def resume(play_id: str, *, state_machine_arn: str) -> str:
    """Start the execution that finishes the compensation of this play; return its ARN."""
    row = ledger.get_entry(play_id)
    if row is None:
        raise CannotResume(f"no play {play_id}")
    status = _execution_status(row)
    if status == "RUNNING":
        raise CannotResume(f"play {play_id} still has a RUNNING execution ({row.execution_arn}); let it end")
    if row.status in ("COMPLETED", "ROLLED_BACK"):
        raise CannotResume(f"play {play_id} is {row.status}: there is nothing to resume")
    failure = ledger.failure_of(row) or {
        # A saga that stopped without recording a failure (it timed out, was stopped, or never
        # started): compensate everything; what was never written is simply not there to delete.
        "step": FORWARD_STEPS[-1],
        "error": f"Operator.Resume.{status}",
        "cause": f"resumed by an operator: the execution was {status} while the ledger said {row.status}",
    }
    # Each execution needs a name of its own; a second's resolution is plenty for an operator.
    name = f"resume-{play_id}-{datetime.now(UTC):%Y%m%d%H%M%S}"
    saga_input = {
        "playId": play_id,
        "counts": {k: int(v) for k, v in ledger.plain(row.counts).items()},
        "fault": None,
        "failure": {k: str(failure.get(k, "")) for k in ("step", "error", "cause")},
        "stepTimeoutSeconds": step_timeout(),
        "resume": {"previousStatus": row.status, "executionStatus": status},
    }
    sfn_client().start_execution(stateMachineArn=state_machine_arn, name=name, input=json.dumps(saga_input))
    return execution_arn(state_machine_arn, name)
