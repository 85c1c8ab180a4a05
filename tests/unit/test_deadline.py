"""A step's deadline: the sooner of Lambda's and its state's, kept with a margin that grows with
the slowest batch, and checked before every batch, retry and backoff of a batch write."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from fountain_local.lambda_runtime import InvocationLog, context_timeout_seconds
from fountain_saga.entities.batch_store import batch_write, put_requests
from fountain_saga.entities.deadline import FLOOR_SECONDS, SLOWEST_BATCH_FACTOR, Deadline, StepOutOfTime


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Context:
    """A Lambda context whose deadline is ``seconds`` after it was made, on ``clock``."""

    def __init__(self, clock: Clock, seconds: float) -> None:
        self.clock = clock
        self.ends = clock.now + seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.ends - self.clock.now) * 1000))


def _deadline(clock: Clock, context_seconds: float, step_timeout: float) -> Deadline:
    return Deadline.of_invocation(
        "CreateDialogue", Context(clock, context_seconds), step_timeout, clock=clock
    )


def test_the_deadline_is_the_sooner_of_the_context_and_the_step_timeout() -> None:
    clock = Clock()
    assert _deadline(clock, 120, 3).seconds_left() == pytest.approx(3)
    assert _deadline(clock, 2, 5).seconds_left() == pytest.approx(2)
    both = _deadline(clock, 4, 3)
    clock.advance(1)
    assert both.seconds_left() == pytest.approx(2)
    clock.advance(1.5)
    assert both.seconds_left() == pytest.approx(0.5)


def test_a_zero_step_timeout_leaves_the_context_alone_in_charge() -> None:
    clock = Clock()
    deadline = _deadline(clock, 7, 0)
    clock.advance(2)
    assert deadline.seconds_left() == pytest.approx(5)


def test_the_step_timeout_counts_from_the_start_of_the_invocation() -> None:
    clock = Clock()
    started = clock.now
    clock.advance(0.4)  # parsing the event, before the deadline was made
    deadline = Deadline.of_invocation("CreateActs", Context(clock, 120), 1, started=started, clock=clock)
    assert deadline.seconds_left() == pytest.approx(0.6)


def test_the_margin_is_the_floor_until_a_batch_is_slower_than_half_of_it() -> None:
    clock = Clock()
    deadline = _deadline(clock, 120, 0)
    assert deadline.margin() == FLOOR_SECONDS
    with deadline.timing():
        clock.advance(FLOOR_SECONDS / 4)
    assert deadline.margin() == FLOOR_SECONDS
    with deadline.timing():
        clock.advance(0.5)
    assert deadline.margin() == pytest.approx(SLOWEST_BATCH_FACTOR * 0.5)
    with deadline.timing():
        clock.advance(0.1)  # a quicker batch later does not shrink it
    assert deadline.margin() == pytest.approx(SLOWEST_BATCH_FACTOR * 0.5)


def test_ensure_stops_when_less_than_the_margin_is_left_with_a_client_safe_message() -> None:
    clock = Clock()
    deadline = _deadline(clock, 120, 2)
    deadline.ensure("nothing yet")
    clock.advance(2 - FLOOR_SECONDS - 0.01)
    deadline.ensure("still in time")  # a hair more than the floor is left: one more batch
    clock.advance(0.02)
    with pytest.raises(StepOutOfTime) as raised:
        deadline.ensure("1,250 of 10,000 dialogue rows written")
    assert str(raised.value) == (
        "CreateDialogue stopped before its deadline: 1,250 of 10,000 dialogue rows written, 0.2 s left"
    )


def test_a_deadline_already_past_says_no_time_left_rather_than_negative_time() -> None:
    clock = Clock()
    deadline = _deadline(clock, 120, 1)
    clock.advance(3)
    with pytest.raises(StepOutOfTime, match=r"0 of 5 acts rows written, 0\.0 s left$"):
        deadline.fence(5, "acts rows written").before_batch(0)


def test_ensure_counts_a_wait_it_is_about_to_make() -> None:
    clock = Clock()
    deadline = _deadline(clock, 120, 1)
    deadline.ensure("ok", then_wait=0.5)
    with pytest.raises(StepOutOfTime):
        deadline.ensure("a backoff would take it past", then_wait=0.8)


def test_unbounded_never_stops() -> None:
    deadline = Deadline.unbounded("CreateScript")
    with deadline.timing():
        pass
    deadline.ensure("anything", then_wait=1e9)


class SlowTable:
    """Takes each batch in ``seconds`` of the clock; leaves the last item unprocessed ``refusals`` times."""

    def __init__(self, clock: Clock, seconds: float, refusals: int = 0) -> None:
        self.clock = clock
        self.seconds = seconds
        self.refusals = refusals
        self.stored = 0
        self.calls = 0

    def batch_write_item(self, RequestItems: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:  # noqa: N803
        ((table, requests),) = RequestItems.items()
        self.calls += 1
        self.clock.advance(self.seconds)
        if self.refusals:
            self.refusals -= 1
            self.stored += len(requests) - 1
            return {"UnprocessedItems": {table: requests[-1:]}}
        self.stored += len(requests)
        return {}


def _rows(n: int) -> Any:
    return put_requests({"id": {"S": f"row-{i}"}} for i in range(n))


def test_a_batch_write_stops_before_the_batch_that_could_end_after_the_deadline() -> None:
    clock = Clock()
    table = SlowTable(clock, 0.3)  # slower than the floor: the margin becomes 0.6 s
    deadline = _deadline(clock, 120, 2)
    with pytest.raises(StepOutOfTime) as raised:
        batch_write("t", _rows(250), client=table, fence=deadline.fence(250, "dialogue rows written"))
    # Batches start at 0, 0.3, 0.6, 0.9 and 1.2 s (0.8 s left, more than the margin); at 1.5 s
    # only 0.5 s is left, less than twice the slowest batch: no sixth batch, and none ended late.
    assert table.stored == 125
    assert clock.now - 1000 <= 2
    assert str(raised.value) == (
        "CreateDialogue stopped before its deadline: 125 of 250 dialogue rows written, 0.5 s left"
    )


def _refused_once_then_out_of_time(oversleep: float) -> tuple[SlowTable, list[float]]:
    clock = Clock()
    table = SlowTable(clock, 0.3, refusals=10)  # the margin becomes 0.6 s after the first call
    deadline = _deadline(clock, 120, 1)
    sleeps: list[float] = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        clock.advance(seconds + oversleep)

    with pytest.raises(StepOutOfTime) as raised:
        batch_write(
            "t", _rows(25), client=table, sleep=sleep, fence=deadline.fence(25, "scenes rows written")
        )
    assert "24 of 25 scenes rows written" in str(raised.value)
    return table, sleeps


def test_a_batch_write_checks_before_each_backoff() -> None:
    # First call ends at 0.3 s: a backoff of up to 0.05 s leaves 0.65 s or more, so it waits and
    # resends; the second call ends before 0.65 s, and the next backoff would leave less than 0.6.
    table, sleeps = _refused_once_then_out_of_time(oversleep=0)
    assert table.calls == 2 and len(sleeps) == 1


def test_a_batch_write_checks_before_resending_unprocessed_items() -> None:
    # The backoff overran (as a sleep may): the resend would start with 0.2 s left, too little.
    table, sleeps = _refused_once_then_out_of_time(oversleep=0.5)
    assert table.calls == 1 and len(sleeps) == 1


def test_without_a_fence_a_batch_write_has_no_deadline() -> None:
    clock = Clock()
    table = SlowTable(clock, 10)
    assert batch_write("t", _rows(100), client=table) == 4
    assert table.stored == 100


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        ({"stepTimeoutSeconds": 2}, 1.6),  # the function's deployed share: 120 s of the state's 150
        ({"stepTimeoutSeconds": 100}, 80.0),
        ({"stepTimeoutSeconds": 300}, 120.0),
        ({"stepTimeoutSeconds": 0}, 120.0),
        ({"stepTimeoutSeconds": None}, 120.0),
        ({}, 120.0),
        ([], 120.0),
    ],
)
def test_the_local_context_times_out_before_the_state_when_the_payload_says_when(
    event: Any, expected: float
) -> None:
    assert context_timeout_seconds(120.0, event) == expected


def test_the_invocation_log_waits_until_no_handler_runs() -> None:
    log = InvocationLog()
    assert log.wait_idle(0) and log.running() == 0
    log.started("CreateDialogue")
    log.started("DeleteDialogue")
    log.finished("DeleteDialogue", 0.1)
    assert log.running() == 1
    assert not log.wait_idle(0.01)
    threading.Timer(0.05, log.finished, ("CreateDialogue", 1.0)).start()
    assert log.wait_idle(5)
    assert log.running() == 0 and log.counts["CreateDialogue"] == 1
