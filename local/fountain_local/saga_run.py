"""One create-play saga on the local runtime, from Fountain text to a report."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from fountain_local.observer import Progress, StepOutcome, follow, history, state_transitions
from fountain_local.runtime import LocalAws
from fountain_saga.entities.reader import COUNTED_KINDS, count_rows
from fountain_saga.saga import ledger
from fountain_saga.saga.faults import FaultPlan
from fountain_saga.saga.intake import PlayRequest, PreparedPlay, start_play


@dataclass
class SagaReport:
    play_id: str
    title: str
    status: str
    execution_status: str
    counts: dict[str, int]
    failure: dict[str, Any] | None
    compensation_failure: dict[str, Any] | None
    elapsed_seconds: float
    state_transitions: int
    steps: list[StepOutcome] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        return {
            "playId": self.play_id,
            "title": self.title,
            "status": self.status,
            "counts": {k: self.counts[k] for k in COUNTED_KINDS},
            "failedStep": self.failure["step"] if self.failure else None,
            "error": self.failure["error"] if self.failure else None,
            "compensationFailedStep": self.compensation_failure["step"]
            if self.compensation_failure
            else None,
            "elapsedSeconds": round(self.elapsed_seconds, 3),
            "stateTransitions": self.state_transitions,
        }


def run_saga(
    aws: LocalAws,
    text: str,
    *,
    title: str | None = None,
    fault: FaultPlan | None = None,
    idempotency_key: str | None = None,
    on_progress: Callable[[Progress], None] | None = None,
    progress_every: float | None = None,
    prepared: PreparedPlay | None = None,
) -> SagaReport:
    """Start a saga and follow it to its end; the counts are read from the entity tables.

    ``on_progress`` sees each step as it ends, each retry and, every ``progress_every`` seconds
    a step runs, a heartbeat.
    """
    sfn = aws.client("stepfunctions")
    started = time.monotonic()
    play = start_play(
        PlayRequest(text=text, title=title, idempotency_key=idempotency_key, fault=fault, prepared=prepared),
        state_machine_arn=aws.resources.state_machine_arn,
    )
    steps = []
    for progress in follow(sfn, play.execution_arn, progress_every=progress_every):
        if isinstance(progress, StepOutcome):
            steps.append(progress)
        if on_progress:
            on_progress(progress)
    elapsed = time.monotonic() - started
    entry = ledger.get_entry(play.play_id)
    execution = sfn.describe_execution(executionArn=play.execution_arn)
    return SagaReport(
        play_id=play.play_id,
        title=play.title,
        status=entry.status if entry else "UNKNOWN",
        execution_status=execution["status"],
        counts=count_rows(play.play_id),
        failure=ledger.failure_of(entry) if entry else None,
        compensation_failure=ledger.compensation_failure_of(entry) if entry else None,
        elapsed_seconds=elapsed,
        state_transitions=state_transitions(history(sfn, play.execution_arn)),
        steps=steps,
    )
