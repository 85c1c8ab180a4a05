"""Errors as AWS reports them, fed through the real state machine: Lambda refusing an invocation
(throttled, or failing itself) is waited out and the play completes; a function stopped at its
timeout, or a step the state machine stopped waiting for, is compensated and the play rolled back.

Lambda's own answers come from the local runtime's SERVICE_FAULTS, which answers an Invoke the
way Lambda does: a 429 TooManyRequestsException or a 500 ServiceException before the handler
runs, or the runtime's timeout envelope after it ran. Step Functions names the Task's error from
that answer, as it does on AWS.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from fountain_local.lambda_runtime import INVOCATIONS, SERVICE_FAULTS, LambdaFault, ServiceFaults
from fountain_local.observer import Progress, Retry
from fountain_local.runtime import LocalAws
from fountain_local.saga_run import SagaReport, run_saga
from fountain_saga import topology
from fountain_saga.entities.reader import COUNTED_KINDS, count_rows
from fountain_saga.play.fountain_import import parse_play
from fountain_saga.saga import ledger
from fountain_saga.saga.faults import CompensationFault, FaultPlan
from tests.conftest import example_text
from tests.saga.test_definition import LAMBDA_WAIT_BUDGET_SECONDS, STATES, retry_wait_bounds

NO_ROWS = dict.fromkeys(("script", "acts", "scenes", "characters", "dialogue", "transitions"), 0)
EXPECTED = {"script": 1, **parse_play(example_text()).counts()}


@pytest.fixture
def lambda_faults(local_aws: LocalAws) -> Iterator[ServiceFaults]:
    # The faults are the process's: a saga an earlier test left running would take some of them.
    local_aws.wait_for_executions()
    assert INVOCATIONS.wait_idle(timeout=30), "a handler of an earlier test was still running"
    SERVICE_FAULTS.clear()
    yield SERVICE_FAULTS
    SERVICE_FAULTS.clear()


class Watched:
    """A saga run, with every retry the state machine made and the backoff it asked for."""

    def __init__(self, aws: LocalAws) -> None:
        assert aws.clock is not None
        self.aws = aws
        self.retries: list[Retry] = []
        self._sleeps_before = len(aws.clock.sleeps)
        self._handler_runs_before = dict(INVOCATIONS.counts)

    def run(self, fault: FaultPlan | None = None) -> SagaReport:
        def seen(progress: Progress) -> None:
            if isinstance(progress, Retry):
                self.retries.append(progress)

        return run_saga(self.aws, example_text(), fault=fault, on_progress=seen)

    @property
    def backoff(self) -> list[float]:
        """Each wait the state machine's retriers asked for during the run."""
        assert self.aws.clock is not None
        return self.aws.clock.sleeps[self._sleeps_before :]

    def handler_runs(self, function_name: str) -> int:
        return INVOCATIONS.counts[function_name] - self._handler_runs_before.get(function_name, 0)

    def retried(self, state: str) -> list[str]:
        return [r.error for r in self.retries if r.name == state]


def _completed_exactly(report: SagaReport) -> None:
    assert report.status == "COMPLETED" and report.execution_status == "SUCCEEDED"
    assert report.counts == EXPECTED
    entry = ledger.get_entry(report.play_id)
    assert entry is not None and ledger.failure_of(entry) is None
    assert {v.name: v.status for v in ledger.step_views(entry)} == dict.fromkeys(
        topology.FORWARD_STEPS, "SUCCEEDED"
    )
    assert ledger.recorded_counts(entry, COUNTED_KINDS) == {k: EXPECTED[k] for k in COUNTED_KINDS}


def _rolled_back_completely(report: SagaReport, aws: LocalAws, step: str, error: str) -> dict[str, Any]:
    assert report.status == "ROLLED_BACK" and report.counts == NO_ROWS
    entry = ledger.get_entry(report.play_id)
    assert entry is not None and ledger.compensation_failure_of(entry) is None
    failure = ledger.failure_of(entry)
    assert failure is not None and (failure["step"], failure["error"]) == (step, error)
    assert "stackTrace" not in failure["cause"]
    arn = aws.resources.state_machine_arn.replace(":stateMachine:", ":execution:")
    execution = aws.client("stepfunctions").describe_execution(executionArn=f"{arn}:create-{report.play_id}")
    assert (execution["status"], execution["error"]) == ("FAILED", f"{step}.{error}")  # RolledBack
    (event,) = [e for e in aws.published_events(report.play_id) if e["detail-type"] == "PlayRolledBack"]
    assert event["detail"]["failure"] == failure
    return failure


def test_a_step_throttled_twenty_times_in_a_row_waits_with_jittered_capped_backoff_and_completes(
    local_aws: LocalAws, lambda_faults: ServiceFaults
) -> None:
    lambda_faults.inject("CreateDialogue", "throttled", times=20)
    watched = Watched(local_aws)

    report = watched.run()

    _completed_exactly(report)
    assert lambda_faults.delivered["CreateDialogue", "throttled"] == 20
    assert watched.retried("CreateDialogue") == ["Lambda.TooManyRequestsException"] * 20
    # Throttled invocations never reached the function; the one that did wrote every row.
    assert watched.handler_runs("CreateDialogue") == 1
    (created,) = [e for e in local_aws.published_events(report.play_id) if e["detail-type"] == "PlayCreated"]
    assert created["detail"]["counts"] == EXPECTED
    # Each wait is drawn from 0 up to that retry's exponential bound, capped: all within the budget.
    bounds = retry_wait_bounds(STATES["CreateDialogue"]["Retry"][0])[:20]
    waits = watched.backoff
    assert len(waits) == 20
    assert all(0 <= wait <= bound for wait, bound in zip(waits, bounds, strict=True)), waits
    assert max(bounds) == 30 and bounds.count(30) == 15  # the cap: waits stop growing at 30 s
    assert any(wait < bound for wait, bound in zip(waits, bounds, strict=True))  # jittered, not the bound
    assert sum(waits) <= sum(bounds) <= LAMBDA_WAIT_BUDGET_SECONDS


def test_throttling_does_not_use_up_a_compensations_own_retries(
    local_aws: LocalAws, lambda_faults: ServiceFaults
) -> None:
    # DeleteActs fails on its own three times (of the four retries it has for that), and then is
    # throttled six times: ten attempts in all, more than its own retrier would allow.
    lambda_faults.inject("DeleteActs", "throttled", times=6, after=3)
    fault = FaultPlan(step="CreateScenes", mode="before", compensation=CompensationFault("DeleteActs", 3))
    watched = Watched(local_aws)

    report = watched.run(fault)

    _rolled_back_completely(report, local_aws, "CreateScenes", "InjectedFault")
    assert watched.retried("DeleteActs") == ["InjectedFault"] * 3 + ["Lambda.TooManyRequestsException"] * 6
    assert lambda_faults.pending() == 0
    entry = ledger.get_entry(report.play_id)
    assert entry is not None
    assert {v.name: v.status for v in ledger.step_views(entry)}["DeleteActs"] == "COMPENSATED"


# What the README says of each error a forward step can end with, as AWS reports it.
@pytest.mark.parametrize(
    ("fault", "error"),
    [
        ("throttled", "Lambda.TooManyRequestsException"),
        ("service_error", "Lambda.ServiceException"),
    ],
)
def test_lambda_refusing_an_invocation_is_retried_and_the_play_completes(
    local_aws: LocalAws, lambda_faults: ServiceFaults, fault: LambdaFault, error: str
) -> None:
    lambda_faults.inject("CreateScenes", fault, times=3)
    watched = Watched(local_aws)

    report = watched.run()

    _completed_exactly(report)
    assert watched.retried("CreateScenes") == [error] * 3
    assert watched.handler_runs("CreateScenes") == 1


def test_a_function_stopped_at_its_timeout_is_lambda_unknown_and_is_compensated_not_retried(
    local_aws: LocalAws, lambda_faults: ServiceFaults
) -> None:
    # Lambda ended the function at its own timeout (120 s, before the state's 150 s), after it had
    # written its rows; the runtime's envelope names no errorType.
    lambda_faults.inject("CreateDialogue", "timed_out")
    watched = Watched(local_aws)

    report = watched.run()

    failure = _rolled_back_completely(report, local_aws, "CreateDialogue", "Lambda.Unknown")
    assert watched.handler_runs("CreateDialogue") == 1 and not watched.retried("CreateDialogue")
    assert failure["cause"].startswith("The cause could not be determined because Lambda did not return")
    payload = json.loads(failure["cause"].split("Returned payload: ", 1)[1])
    assert set(payload) == {"errorMessage"}
    assert payload["errorMessage"].endswith(" Task timed out after 120.00 seconds")


def test_a_timeout_as_newer_runtimes_report_it_is_compensated_not_retried(
    local_aws: LocalAws, lambda_faults: ServiceFaults
) -> None:
    lambda_faults.inject("CreateCharacters", "timed_out_in_sandbox")
    watched = Watched(local_aws)

    report = watched.run()

    failure = _rolled_back_completely(report, local_aws, "CreateCharacters", "Sandbox.Timedout")
    assert watched.handler_runs("CreateCharacters") == 1 and not watched.retried("CreateCharacters")
    assert json.loads(failure["cause"])["errorMessage"].endswith("Error: Task timed out after 120.00 seconds")


def test_a_step_the_state_machine_stops_waiting_for_is_states_timeout_and_is_compensated(
    local_aws: LocalAws, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The state's own timeout, shortened to a second: the function outlives it.
    monkeypatch.setenv(topology.STEP_TIMEOUT_ENV, "1")
    watched = Watched(local_aws)

    report = watched.run(FaultPlan(step="CreateActs", mode="timeout"))

    _rolled_back_completely(report, local_aws, "CreateActs", "States.Timeout")
    assert not watched.retried("CreateActs")
    # The function the state gave up on stopped at its own deadline, before its compensation ran.
    assert INVOCATIONS.wait_idle(timeout=10)
    assert count_rows(report.play_id) == NO_ROWS
