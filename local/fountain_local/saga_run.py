"""One saga on the local runtime (a create, a revision or a deletion), followed to a report."""

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
from fountain_saga.saga.play_changes import start_deletion, start_revision


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
    started = time.monotonic()
    play = start_play(
        PlayRequest(text=text, title=title, idempotency_key=idempotency_key, fault=fault, prepared=prepared),
        state_machine_arn=aws.resources.state_machine_arn,
    )
    return _follow(
        aws, play.play_id, play.execution_arn, started, on_progress=on_progress, progress_every=progress_every
    )


def run_revision(
    aws: LocalAws,
    play_id: str,
    text: str,
    *,
    title: str | None = None,
    if_match: int | None = None,
    fault: FaultPlan | None = None,
    idempotency_key: str | None = None,
    on_progress: Callable[[Progress], None] | None = None,
    progress_every: float | None = None,
    prepared: PreparedPlay | None = None,
) -> SagaReport:
    """Revise a play and follow the saga to its end; counts are of the version readers see then."""
    started = time.monotonic()
    saga = start_revision(
        play_id,
        PlayRequest(text=text, title=title, idempotency_key=idempotency_key, fault=fault, prepared=prepared),
        if_match=if_match,
        state_machine_arn=aws.resources.state_machine_arn,
    )
    return _follow(
        aws, play_id, saga.execution_arn, started, on_progress=on_progress, progress_every=progress_every
    )


def run_deletion(
    aws: LocalAws,
    play_id: str,
    *,
    if_match: int | None = None,
    fault: FaultPlan | None = None,
    on_progress: Callable[[Progress], None] | None = None,
    progress_every: float | None = None,
) -> SagaReport:
    """Delete a play and follow the saga to its end; counts are what is left of the play."""
    started = time.monotonic()
    saga = start_deletion(
        play_id, if_match=if_match, fault=fault, state_machine_arn=aws.resources.state_machine_arn
    )
    return _follow(
        aws, play_id, saga.execution_arn, started, on_progress=on_progress, progress_every=progress_every
    )


def _follow(
    aws: LocalAws,
    play_id: str,
    execution_arn: str,
    started: float,
    *,
    on_progress: Callable[[Progress], None] | None,
    progress_every: float | None,
) -> SagaReport:
    sfn = aws.client("stepfunctions")
    steps = []
    for progress in follow(sfn, execution_arn, progress_every=progress_every):
        if isinstance(progress, StepOutcome):
            steps.append(progress)
        if on_progress:
            on_progress(progress)
    elapsed = time.monotonic() - started
    entry = ledger.get_entry(play_id)
    execution = sfn.describe_execution(executionArn=execution_arn)
    return SagaReport(
        play_id=play_id,
        title=entry.title if entry else "",
        status=entry.status if entry else "UNKNOWN",
        execution_status=execution["status"],
        counts=count_rows(play_id, version=int(entry.version) if entry else 1),
        failure=ledger.failure_of(entry) if entry else None,
        compensation_failure=ledger.compensation_failure_of(entry) if entry else None,
        elapsed_seconds=elapsed,
        state_transitions=state_transitions(history(sfn, execution_arn)),
        steps=steps,
    )
