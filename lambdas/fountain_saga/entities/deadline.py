"""When a step must stop writing: the sooner of its Lambda timeout and its state's timeout.

Once the state machine gives up on a step (States.Timeout) it runs the compensations at once,
while the step's code may still be running: on AWS until Lambda's own timeout ends it, locally
until the handler returns. Any write it makes after the compensation passed stays for good. So
a step checks the time it has left before every write, and stops with ``StepOutOfTime`` rather
than start one that could still be landing when its deadline comes.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import Protocol

# The least time a step keeps in hand, before it has timed a batch of its own: about ten times
# what a BatchWriteItem of 25 rows usually takes (10-30 ms). It also covers the gap between the
# state's timer starting and the handler's first line, which the handler cannot see (15-90 ms
# measured locally on a busy 2-core machine). A quarter of the shortest step timeout (1 s), so
# such a step still gets most of its time.
FLOOR_SECONDS = 0.25
# Then twice the slowest batch seen in this invocation: batch times vary with item sizes, with
# throttling (the client's own retries happen inside one call) and with load, and doubling
# absorbs that spread while costing little when batches are quick.
SLOWEST_BATCH_FACTOR = 2.0


class StepOutOfTime(Exception):
    """A step stopped itself before its deadline; what it wrote is for the compensation to remove."""


class RemainingTime(Protocol):
    """The one method of the Lambda context object that a deadline reads."""

    def get_remaining_time_in_millis(self) -> int: ...


class Deadline:
    """One invocation's time budget, and the margin it keeps from the writes it has timed."""

    def __init__(
        self, step: str, seconds_left: Callable[[], float], *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.step = step
        self._seconds_left = seconds_left
        self._clock = clock
        self.slowest_batch = 0.0

    @classmethod
    def of_invocation(
        cls,
        step: str,
        context: RemainingTime,
        step_timeout_seconds: float,
        *,
        started: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> Deadline:
        """The sooner of Lambda's deadline and the state's timeout (0: none), counted from ``started``.

        Step Functions starts its timer a little before the handler's first line (the invoke's
        latency; on AWS a cold start too): the margin's floor covers the former, and on AWS the
        state's timeout is well past the function's, which is then the deadline that counts.
        """
        began = clock() if started is None else started

        def seconds_left() -> float:
            left = context.get_remaining_time_in_millis() / 1000
            if step_timeout_seconds > 0:
                left = min(left, step_timeout_seconds - (clock() - began))
            return left

        return cls(step, seconds_left, clock=clock)

    @classmethod
    def unbounded(cls, step: str) -> Deadline:
        """No deadline: for code that calls a step's logic directly, outside any invocation."""
        return cls(step, lambda: math.inf)

    def seconds_left(self) -> float:
        return self._seconds_left()

    def margin(self) -> float:
        return max(FLOOR_SECONDS, SLOWEST_BATCH_FACTOR * self.slowest_batch)

    def ensure(self, done: str, *, then_wait: float = 0.0) -> None:
        """Raise ``StepOutOfTime`` unless, after waiting ``then_wait``, the margin is still left.

        ``done`` says what the step leaves behind; it reaches clients, so it names no table.
        """
        left = self.seconds_left()
        if left - then_wait < self.margin():
            raise StepOutOfTime(
                f"{self.step} stopped before its deadline: {done}, {max(0.0, left):.1f} s left"
            )

    @contextmanager
    def timing(self) -> Iterator[None]:
        """Time one write, so the margin grows to cover the slowest seen."""
        began = self._clock()
        try:
            yield
        finally:
            self.slowest_batch = max(self.slowest_batch, self._clock() - began)

    def fence(self, total: int, rows: str) -> Fence:
        """A fence for a batch job of ``total`` rows, e.g. ``fence(400, "dialogue rows written")``."""
        return Fence(self, total, rows)


@dataclass(frozen=True)
class Fence:
    """What a batch writer consults before each batch: is there time for one more?"""

    deadline: Deadline
    total: int
    rows: str

    def before_batch(self, done: int, *, then_wait: float = 0.0) -> None:
        self.deadline.ensure(f"{done:,} of {self.total:,} {self.rows}", then_wait=then_wait)

    def timing(self) -> AbstractContextManager[None]:
        return self.deadline.timing()
