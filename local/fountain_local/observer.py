"""Following a saga's execution: its steps as they end, and its final figures."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from fountain_saga.saga.faults import COMPENSATION_STEPS
from fountain_saga.topology import MACHINES

# Every Lambda state of every saga: forward steps, pivots, clean-ups, deletions, compensations.
SAGA_STEPS = frozenset(step for m in MACHINES.values() for step in m.steps) | frozenset(COMPENSATION_STEPS)
POLL_SECONDS = 0.02
# moto serializes a whole history per call (~25 ms for one saga's 60 events), and the engine runs
# in this process: polling it every POLL_SECONDS took half the GIL from the saga it watched.
# History is read at most once per HISTORY_COST_FACTOR times its last cost; the status is cheap.
HISTORY_COST_FACTOR = 8


@dataclass(frozen=True)
class StepOutcome:
    name: str
    ok: bool
    seconds: float
    rows: int | None
    error: str | None

    compensation: bool = False


@dataclass(frozen=True)
class Retry:
    """An attempt of a Task state failed, and the state machine started another after a backoff."""

    name: str
    attempt: int
    error: str
    backoff_seconds: float

    compensation: bool = False


@dataclass(frozen=True)
class StillRunning:
    """A Task state has been running for ``seconds`` (a multiple of the progress interval)."""

    name: str
    seconds: float

    compensation: bool = False


Progress = StepOutcome | Retry | StillRunning


def follow(
    sfn: Any, execution_arn: str, timeout: float = 600.0, progress_every: float | None = None
) -> Iterator[Progress]:
    """Yield each saga step (forward or compensation) as it ends, until the execution stops.

    Also each retry of any Task state, when its next attempt starts (the history holds the failed
    attempt and the next one, so the backoff is what was waited, not what was planned), and, with
    ``progress_every``, a StillRunning for each further ``progress_every`` seconds a Task state runs.
    """
    seen = 0
    reader = _HistoryReader(_compensations(execution_arn))
    deadline = time.monotonic() + timeout
    next_read = 0.0
    while True:
        status = sfn.describe_execution(executionArn=execution_arn)["status"]
        now = time.monotonic()
        if status != "RUNNING" or now >= next_read:
            events = history(sfn, execution_arn)
            next_read = now + HISTORY_COST_FACTOR * (time.monotonic() - now)
            for event in events[seen:]:
                yield from reader.read(event)
            seen = len(events)
            if progress_every and status == "RUNNING":
                # Only just after a read: between reads a step may have ended unseen.
                yield from reader.heartbeats(time.time(), progress_every)
        if status != "RUNNING":
            return
        if now > deadline:
            raise TimeoutError(f"execution {execution_arn} still RUNNING after {timeout:.0f} s")
        time.sleep(POLL_SECONDS)


def _compensations(execution_arn: str) -> frozenset[str]:
    """The states that undo in this execution's saga: a deletion's Delete<Kind> steps go forward."""
    machine = execution_arn.split(":execution:", 1)[-1]
    if machine.startswith(MACHINES["delete"].name):
        return frozenset()
    return frozenset(COMPENSATION_STEPS)


class _HistoryReader:
    """Turns history events, read in order, into steps ended, retries and heartbeats."""

    def __init__(self, compensations: frozenset[str]) -> None:
        self.compensations = compensations
        self.entered: dict[str, float] = {}
        self.attempts: dict[str, int] = {}
        self.error: str | None = None  # of the last failed attempt, until an attempt succeeds
        self.failed_at = 0.0
        self.running: str | None = None
        self.beats = 0

    def read(self, event: dict[str, Any]) -> Iterator[Progress]:
        kind = event["type"]
        stamp = event["timestamp"].timestamp()
        if kind == "TaskStateEntered":
            name = event["stateEnteredEventDetails"]["name"]
            self.entered[name] = stamp
            self.attempts[name] = 0
            self.error = None
            self.running, self.beats = name, 0
        elif kind in ("TaskScheduled", "LambdaFunctionScheduled") and self.running:
            self.attempts[self.running] += 1
            attempt = self.attempts[self.running]
            if attempt > 1 and self.error is not None:
                yield Retry(
                    self.running,
                    attempt,
                    self.error,
                    max(0.0, stamp - self.failed_at),
                    self.running in self.compensations,
                )
        elif kind in ("LambdaFunctionSucceeded", "TaskSucceeded"):
            self.error = None  # an earlier attempt failed, and a retry made up for it
        elif kind in ("LambdaFunctionFailed", "LambdaFunctionTimedOut", "TaskFailed", "TaskTimedOut"):
            details: dict[str, Any] = next((v for k, v in event.items() if k.endswith("EventDetails")), {})
            self.error = str(details.get("error", kind))
            self.failed_at = stamp
        elif kind == "TaskStateExited":
            name = event["stateExitedEventDetails"]["name"]
            self.running = None
            if name not in SAGA_STEPS:
                return
            output = json.loads(event["stateExitedEventDetails"].get("output") or "{}")
            error, self.error = self.error, None
            step = output.get("step") if isinstance(output, dict) else None
            ok = error is None and isinstance(step, dict)
            rows = step.get("rows") if ok and isinstance(step, dict) else None
            yield StepOutcome(
                name, ok, stamp - self.entered.get(name, stamp), rows, error, name in self.compensations
            )

    def heartbeats(self, now: float, every: float) -> Iterator[StillRunning]:
        if self.running is None:
            return
        elapsed = now - self.entered[self.running]
        while elapsed >= (self.beats + 1) * every:
            self.beats += 1
            yield StillRunning(self.running, self.beats * every, self.running in self.compensations)


def history(sfn: Any, execution_arn: str) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    request: dict[str, Any] = {"executionArn": execution_arn, "maxResults": 1000}
    while True:
        page = sfn.get_execution_history(**request)
        events.extend(page["events"])
        if not page.get("nextToken"):
            return events
        request["nextToken"] = page["nextToken"]


def state_transitions(events: list[dict[str, Any]]) -> int:
    """States entered: what Standard workflows bill for."""
    return sum(1 for e in events if e["type"].endswith("StateEntered"))
