"""Following a saga's execution: its steps as they end, and its final figures."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from fountain_saga.topology import COMPENSATIONS, FORWARD_STEPS

SAGA_STEPS = frozenset(FORWARD_STEPS) | frozenset(COMPENSATIONS.values())
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

    @property
    def compensation(self) -> bool:
        return self.name not in FORWARD_STEPS


def follow(sfn: Any, execution_arn: str, timeout: float = 600.0) -> Iterator[StepOutcome]:
    """Yield each saga step (forward or compensation) as it ends, until the execution stops."""
    seen = 0
    entered: dict[str, float] = {}
    errors: dict[str, str] = {}
    deadline = time.monotonic() + timeout
    next_read = 0.0
    while True:
        status = sfn.describe_execution(executionArn=execution_arn)["status"]
        now = time.monotonic()
        if status != "RUNNING" or now >= next_read:
            events = history(sfn, execution_arn)
            next_read = now + HISTORY_COST_FACTOR * (time.monotonic() - now)
            for event in events[seen:]:
                yield from _outcome(event, entered, errors)
            seen = len(events)
        if status != "RUNNING":
            return
        if now > deadline:
            raise TimeoutError(f"execution {execution_arn} still RUNNING after {timeout:.0f} s")
        time.sleep(POLL_SECONDS)


def _outcome(
    event: dict[str, Any], entered: dict[str, float], errors: dict[str, str]
) -> Iterator[StepOutcome]:
    kind = event["type"]
    stamp = event["timestamp"].timestamp()
    if kind == "TaskStateEntered":
        name = event["stateEnteredEventDetails"]["name"]
        if name in SAGA_STEPS:
            entered["current"] = stamp
            entered[name] = stamp
            errors.pop(name, None)
    elif kind in ("LambdaFunctionSucceeded", "TaskSucceeded"):
        errors.pop("last", None)  # an earlier attempt failed, and a retry made up for it
    elif kind in ("LambdaFunctionFailed", "LambdaFunctionTimedOut", "TaskFailed", "TaskTimedOut"):
        details: dict[str, Any] = next((v for k, v in event.items() if k.endswith("EventDetails")), {})
        errors["last"] = str(details.get("error", kind))
    elif kind == "TaskStateExited":
        name = event["stateExitedEventDetails"]["name"]
        if name not in SAGA_STEPS:
            return
        output = json.loads(event["stateExitedEventDetails"].get("output") or "{}")
        error = errors.pop("last", None)
        step = output.get("step") if isinstance(output, dict) else None
        ok = error is None and isinstance(step, dict)
        rows = step.get("rows") if ok and isinstance(step, dict) else None
        yield StepOutcome(name, ok, stamp - entered.get(name, stamp), rows, error)


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
