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

from fountain_saga.topology import FAULT_INJECTION_ENV, FORWARD_STEPS

FaultMode = Literal["before", "partial", "timeout"]
FAULT_MODES: tuple[FaultMode, ...] = ("before", "partial", "timeout")


class InjectedFault(Exception):
    """Raised by a step told to fail; the saga catches it like any other step failure."""


def injection_enabled() -> bool:
    return os.environ.get(FAULT_INJECTION_ENV, "disabled") == "enabled"


@dataclass(frozen=True)
class FaultPlan:
    step: str
    mode: FaultMode = "partial"

    def __post_init__(self) -> None:
        if self.step not in FORWARD_STEPS:
            raise ValueError(f"unknown step {self.step!r}; the steps are {', '.join(FORWARD_STEPS)}")
        if self.mode not in FAULT_MODES:
            raise ValueError(f"unknown fault mode {self.mode!r}; the modes are {', '.join(FAULT_MODES)}")

    @classmethod
    def from_event(cls, raw: Any) -> FaultPlan | None:
        if not raw:
            return None
        return cls(step=raw["step"], mode=raw.get("mode", "partial"))

    def to_event(self) -> dict[str, str]:
        return {"step": self.step, "mode": self.mode}


def fault_for(plan: FaultPlan | None, step: str) -> FaultPlan | None:
    """The fault this step must act out, if any and if this deployment allows it."""
    if plan is None or plan.step != step or not injection_enabled():
        return None
    return plan


def fail(plan: FaultPlan, detail: str, *, timeout_seconds: float = 0) -> None:
    if plan.mode == "timeout":
        # Outlive the state's TimeoutSeconds; the state machine must give up on us.
        time.sleep(timeout_seconds)
    raise InjectedFault(f"{plan.step} failed on purpose ({plan.mode}): {detail}")
