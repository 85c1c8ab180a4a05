"""The real ASL on moto's Step Functions engine, with the real handlers in-process."""

from __future__ import annotations

from typing import Any

import pytest

from bench.playgen import generate_play
from fountain_local.observer import history
from fountain_local.saga_run import SagaReport, run_saga
from fountain_saga.entities.reader import count_rows, load_play
from fountain_saga.play.fountain_export import render_fountain
from fountain_saga.play.fountain_import import parse_play
from fountain_saga.play.fountain_syntax import normalise
from fountain_saga.saga import ledger
from fountain_saga.saga.faults import FaultPlan
from fountain_saga.topology import COMPENSATIONS, FORWARD_STEPS
from tests.conftest import example_text

NO_ROWS = {"script": 0, "acts": 0, "scenes": 0, "characters": 0, "dialogue": 0, "transitions": 0}


@pytest.fixture(scope="module")
def completed(local_aws: Any) -> SagaReport:
    return run_saga(local_aws, example_text())


def test_a_play_is_stored_with_exact_counts(completed: SagaReport) -> None:
    expected = parse_play(example_text()).counts()
    assert completed.status == "COMPLETED"
    assert completed.execution_status == "SUCCEEDED"
    assert count_rows(completed.play_id) == {"script": 1, **expected}


def test_the_stored_play_reads_back_as_the_parsed_play_and_its_very_text(completed: SagaReport) -> None:
    stored = load_play(completed.play_id)
    assert stored == parse_play(example_text())
    assert stored is not None and render_fountain(stored) == normalise(example_text())


def test_the_ledger_shows_every_step_succeeded(completed: SagaReport) -> None:
    entry = ledger.get_entry(completed.play_id)
    assert entry is not None and entry.status == "COMPLETED"
    views = ledger.step_views(entry)
    assert [v.name for v in views] == list(FORWARD_STEPS)
    assert {v.status for v in views} == {"SUCCEEDED"}
    assert all(v.started_at and v.ended_at and v.started_at <= v.ended_at for v in views)
    assert ledger.failure_of(entry) is None


@pytest.mark.parametrize("step", FORWARD_STEPS)
def test_a_failure_at_any_step_rolls_the_whole_play_back(
    step: str, local_aws: Any, completed: SagaReport
) -> None:
    before = count_rows(completed.play_id)

    report = run_saga(local_aws, example_text(), fault=FaultPlan(step=step))

    assert report.status == "ROLLED_BACK"
    assert count_rows(report.play_id) == NO_ROWS
    entry = ledger.get_entry(report.play_id)
    assert entry is not None
    assert ledger.failure_of(entry) == {
        "step": step,
        "error": "InjectedFault",
        "cause": ledger.failure_of(entry)["cause"],  # type: ignore[index]
    }
    cause = ledger.failure_of(entry)["cause"]  # type: ignore[index]
    # The handler's own message, not the Lambda error envelope: no stack trace, no file.
    assert step in cause and "failed on purpose" in cause
    assert "stackTrace" not in cause and ".py" not in cause
    # Compensations ran from the failed step's own, in reverse order, down to DeleteScript.
    index = FORWARD_STEPS.index(step)
    expected = [COMPENSATIONS[s] for s in reversed(FORWARD_STEPS[: index + 1])]
    assert [s.name for s in report.steps if s.compensation] == expected
    assert all(s.ok for s in report.steps if s.compensation)
    execution = local_aws.client("stepfunctions").describe_execution(
        executionArn=f"{local_aws.resources.state_machine_arn.replace(':stateMachine:', ':execution:')}"
        f":create-{report.play_id}"
    )
    assert execution["status"] == "FAILED"
    assert execution["error"] == f"{step}.InjectedFault"
    # The play completed earlier is untouched.
    assert count_rows(completed.play_id) == before


def test_state_stays_small_and_transitions_do_not_grow_with_the_play(local_aws: Any) -> None:
    small = run_saga(local_aws, "INT. ROOM - DAY\n\nBOB\nHello.\n")
    large = run_saga(local_aws, generate_play(800))  # about as many speeches as a feature film
    assert small.status == large.status == "COMPLETED"
    assert small.state_transitions == large.state_transitions
    sfn = local_aws.client("stepfunctions")
    arn = local_aws.resources.state_machine_arn.replace(":stateMachine:", ":execution:")
    payloads = [
        len(details.get("input") or details.get("output") or "")
        for event in history(sfn, f"{arn}:create-{large.play_id}")
        for key, details in event.items()
        if key.endswith("EventDetails") and isinstance(details, dict)
    ]
    assert max(payloads) < 4096  # a claim check, not the play (~130 KB of text)
