"""Fault injection: a deployment setting that lets a request make one step fail on purpose.

It exists to watch and test the compensations. A step honours a fault only where the deployment
enabled injection (on by default locally, off in a deployed stack unless synthesized with it), so
no production request can switch it on.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Any, Literal

from fountain_saga.topology import (
    COMPENSATIONS,
    FAULT_INJECTION_ENV,
    MACHINES,
    REVISE_PIVOT_COMPENSATION,
)

# Every state a fault can be injected at, in any saga: its Lambda steps.
FAULT_STEPS: tuple[str, ...] = tuple(dict.fromkeys(step for m in MACHINES.values() for step in m.steps))
COMPENSATION_STEPS: tuple[str, ...] = (*COMPENSATIONS.values(), REVISE_PIVOT_COMPENSATION)

FaultMode = Literal["before", "partial", "timeout"]
FAULT_MODES: tuple[FaultMode, ...] = ("before", "partial", "timeout")


class InjectedFault(Exception):
    """Raised by a step told to fail; the saga catches it like any other step failure."""


def injection_enabled() -> bool:
    return os.environ.get(FAULT_INJECTION_ENV, "disabled") == "enabled"


@dataclass(frozen=True)
class CompensationFault:
    """Make a compensation fail: its first ``failures`` attempts, or every attempt when None."""

    step: str
    failures: int | None = None

    def __post_init__(self) -> None:
        if self.step not in COMPENSATION_STEPS:
            names = ", ".join(COMPENSATION_STEPS)
            raise ValueError(f"unknown compensation {self.step!r}; the compensations are {names}")
        if self.failures is not None and self.failures < 1:
            raise ValueError("failures must be at least 1 (or None for every attempt)")

    def fails_on(self, attempt: int) -> bool:
        return self.failures is None or attempt < self.failures


@dataclass(frozen=True)
class FaultPlan:
    """Make the state ``step`` fail: on every attempt, or on its first ``failures`` (a retried
    step, such as a revision's clean-up, then succeeds on the next one)."""

    step: str
    mode: FaultMode = "partial"
    compensation: CompensationFault | None = None
    failures: int | None = None

    def __post_init__(self) -> None:
        if self.step not in FAULT_STEPS:
            raise ValueError(f"unknown step {self.step!r}; the steps are {', '.join(FAULT_STEPS)}")
        if self.mode not in FAULT_MODES:
            raise ValueError(f"unknown fault mode {self.mode!r}; the modes are {', '.join(FAULT_MODES)}")
        if self.failures is not None and self.failures < 1:
            raise ValueError("failures must be at least 1 (or None for every attempt)")

    @classmethod
    def from_event(cls, raw: Any) -> FaultPlan | None:
        if not raw:
            return None
        compensation = raw.get("compensation")
        return cls(
            step=raw["step"],
            mode=raw.get("mode", "partial"),
            compensation=CompensationFault(compensation["step"], compensation.get("failures"))
            if compensation
            else None,
            failures=raw.get("failures"),
        )

    def to_event(self) -> dict[str, Any]:
        event: dict[str, Any] = {"step": self.step, "mode": self.mode}
        if self.failures is not None:
            event["failures"] = self.failures
        if self.compensation:
            event["compensation"] = {"step": self.compensation.step, "failures": self.compensation.failures}
        return event


def fault_for(plan: FaultPlan | None, step: str, attempt: int = 0) -> FaultPlan | None:
    """The fault this attempt of this step must act out, if any and if this deployment allows it."""
    if plan is None or plan.step != step or not injection_enabled():
        return None
    if plan.failures is not None and attempt >= plan.failures:
        return None
    return plan


def fail(plan: FaultPlan, detail: str, *, timeout_seconds: float = 0) -> None:
    if plan.mode == "timeout":
        # Outlive the state's timeout; the state machine must give up on us and compensate.
        time.sleep(timeout_seconds + 1)
    raise InjectedFault(f"{plan.step} failed on purpose ({plan.mode}): {detail}")


def fail_compensation(plan: FaultPlan | None, step: str, attempt: int, remaining: str) -> None:
    """Act out a compensation fault, naming what the failed attempt left in place."""
    if plan is None or plan.compensation is None or plan.compensation.step != step or not injection_enabled():
        return
    if plan.compensation.fails_on(attempt):
        raise InjectedFault(f"{step} failed on purpose (attempt {attempt + 1}): {remaining} not removed")
