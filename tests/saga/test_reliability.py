"""No play is ever half-created or lost: faults at every step and in every mode, duplicate
deliveries, compensations that fail, and sagas that get stuck — each ends with every row of the
play gone, or the play whole, and a ledger that says which."""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from fountain_local.lambda_runtime import LocalLambdaContext, resolve_handler
from fountain_local.runtime import LocalAws
from fountain_local.saga_run import SagaReport, run_saga
from fountain_saga import topology
from fountain_saga.entities.reader import count_rows
from fountain_saga.play.fountain_import import parse_play
from fountain_saga.saga import ledger
from fountain_saga.saga.claim_check import stage_play
from fountain_saga.saga.faults import FAULT_MODES, CompensationFault, FaultPlan
from fountain_saga.saga.intake import execution_name
from fountain_saga.saga.recovery import CannotResume, resume, stuck_sagas
from tests.conftest import example_text

pytestmark = pytest.mark.slow

NO_ROWS = dict.fromkeys(("script", "acts", "scenes", "characters", "dialogue", "transitions"), 0)


def _execution(aws: LocalAws, play_id: str, name: str | None = None) -> dict[str, Any]:
    arn = aws.resources.state_machine_arn.replace(":stateMachine:", ":execution:")
    description: dict[str, Any] = aws.client("stepfunctions").describe_execution(
        executionArn=f"{arn}:{name or execution_name(play_id)}"
    )
    return description


def _wait(aws: LocalAws, execution_arn: str, timeout: float = 60) -> str:
    sfn = aws.client("stepfunctions")
    deadline = time.monotonic() + timeout
    while (status := sfn.describe_execution(executionArn=execution_arn)["status"]) == "RUNNING":
        assert time.monotonic() < deadline, f"{execution_arn} still RUNNING"
        time.sleep(0.02)
    return str(status)


@pytest.mark.parametrize("mode", FAULT_MODES)
@pytest.mark.parametrize("step", topology.FORWARD_STEPS)
def test_fault_matrix_every_step_every_mode_rolls_back_completely(
    step: str, mode: str, local_aws: LocalAws, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The state machine's step timeout, shortened so a hanging step is given up on in 1 s.
    monkeypatch.setenv(topology.STEP_TIMEOUT_ENV, "1")

    report = run_saga(local_aws, example_text(), fault=FaultPlan(step=step, mode=mode))  # type: ignore[arg-type]

    assert report.status == "ROLLED_BACK"
    assert count_rows(report.play_id) == NO_ROWS
    entry = ledger.get_entry(report.play_id)
    assert entry is not None
    assert ledger.plain(entry.injected_fault) == {"step": step, "mode": mode}
    failure = ledger.failure_of(entry)
    assert failure is not None and failure["step"] == step
    if mode == "timeout":
        assert failure["error"] == "States.Timeout"  # the state machine's timeout caught it
    else:
        assert failure["error"] == "InjectedFault"
        assert f"({mode})" in failure["cause"] and "stackTrace" not in failure["cause"]
    assert _execution(local_aws, report.play_id)["error"] == f"{step}.{failure['error']}"


def _event(play_id: str, kind: str, *, saga: str | None = None) -> dict[str, Any]:
    return {
        "playId": play_id,
        "sagaId": saga or f"create-{play_id}",
        "counts": {"script": 1, "acts": 1, "scenes": 8, "characters": 7, "dialogue": 20, "transitions": 7},
        "fault": None,
        "kind": kind,
    }


def _invoke(spec: topology.FunctionSpec, event: dict[str, Any]) -> dict[str, Any]:
    context = LocalLambdaContext(
        spec.name, f"arn:aws:lambda:us-east-1:123456789012:function:{spec.name}", 1024, 60
    )
    result: dict[str, Any] = resolve_handler(spec.handler)(event, context)
    return result


@pytest.mark.usefixtures("local_aws")
@pytest.mark.parametrize("forward", topology.FORWARD_STEPS)
def test_each_step_and_its_compensation_delivered_twice_act_once(forward: str) -> None:
    play = parse_play(example_text())
    play_id = uuid.uuid4().hex
    event = {
        **_event(play_id, forward),
        "counts": {"script": 1, **play.counts()},
        "play": stage_play(play, play_id).to_event(),
        "stepTimeoutSeconds": 60,
    }
    # What the forward steps before this one wrote (PublishPlay needs the script).
    for earlier in topology.FORWARD_STEPS[: topology.FORWARD_STEPS.index(forward)]:
        _invoke(topology.function(earlier), event)
    before = count_rows(play_id)

    first = _invoke(topology.function(forward), event)
    second = _invoke(topology.function(forward), event)
    if forward == "PublishPlay":
        from fountain_saga.entities.heads import read_head

        head = read_head(play_id)
        assert head is not None and (head.version, head.status) == (1, "ACTIVE")

    assert first == second
    expected = dict(before)
    if forward != "PublishPlay":
        kind = topology.function(forward).service
        expected[kind] = event["counts"][kind]
    assert count_rows(play_id) == expected  # the rows of one run, and nothing else touched

    compensation = topology.function(topology.COMPENSATIONS[forward])
    _invoke(compensation, event)
    _invoke(compensation, event)
    if forward == "PublishPlay":
        from fountain_saga.entities.heads import read_head

        assert read_head(play_id) is None
        assert count_rows(play_id) == expected
    else:
        assert count_rows(play_id)[topology.function(forward).service] == 0


def test_a_compensation_that_fails_twice_is_retried_with_backoff_and_the_saga_rolls_back(
    local_aws: LocalAws,
) -> None:
    assert local_aws.clock is not None
    before = len(local_aws.clock.sleeps)
    fault = FaultPlan(step="CreateDialogue", compensation=CompensationFault("DeleteActs", failures=2))

    report = run_saga(local_aws, example_text(), fault=fault)

    assert report.status == "ROLLED_BACK"
    assert count_rows(report.play_id) == NO_ROWS
    backoff = local_aws.clock.sleeps[before:]
    retry = next(
        r
        for r in json.loads(topology.STATE_MACHINE_FILE.read_text())["States"]["DeleteActs"]["Retry"]
        if r["ErrorEquals"] == ["States.ALL"]
    )
    assert len(backoff) == 2  # two failed attempts, two waits, then success
    for attempt, seconds in enumerate(backoff):
        # Full jitter: a random wait up to the exponential bound of that attempt.
        assert 0 <= seconds <= retry["IntervalSeconds"] * retry["BackoffRate"] ** attempt


@pytest.fixture(scope="module")
def compensation_failed(local_aws: LocalAws) -> SagaReport:
    fault = FaultPlan(step="CreateDialogue", compensation=CompensationFault("DeleteActs"))
    return run_saga(local_aws, example_text(), fault=fault)


def test_a_compensation_that_keeps_failing_ends_compensation_failed_loudly(
    compensation_failed: SagaReport, local_aws: LocalAws
) -> None:
    report = compensation_failed
    assert report.status == "COMPENSATION_FAILED"
    entry = ledger.get_entry(report.play_id)
    assert entry is not None
    stuck = ledger.compensation_failure_of(entry)
    assert stuck is not None and stuck["step"] == "DeleteActs" and stuck["error"] == "InjectedFault"
    acts = parse_play(example_text()).counts()["acts"]
    assert f"{acts} acts rows of version 1 of play" in stuck["cause"] and "not removed" in stuck["cause"]
    assert {v.name: v.status for v in ledger.step_views(entry)}["DeleteActs"] == "FAILED"
    # The rows DeleteActs could not remove are still there; the ones before it are gone.
    assert count_rows(report.play_id) == {**NO_ROWS, "script": 1, "acts": acts}
    execution = _execution(local_aws, report.play_id)
    assert execution["status"] == "FAILED"
    assert execution["error"] == "DeleteActs.InjectedFault"
    assert "not removed" in execution["cause"]
    (event,) = [
        e for e in local_aws.published_events(report.play_id) if e["detail-type"] == "PlayCompensationFailed"
    ]
    assert event["detail"]["compensationFailure"]["step"] == "DeleteActs"
    assert event["detail"]["failure"]["step"] == "CreateDialogue"


def test_an_operator_resumes_a_failed_compensation_and_it_cleans_up_completely(
    compensation_failed: SagaReport, local_aws: LocalAws
) -> None:
    # The cause is "fixed": the resumed execution carries no fault.
    arn = resume(compensation_failed.play_id, state_machine_arn=local_aws.resources.state_machine_arn)

    assert _wait(local_aws, arn) == "FAILED"  # ends in RolledBack, a Fail state, as any rollback
    assert count_rows(compensation_failed.play_id) == NO_ROWS
    entry = ledger.get_entry(compensation_failed.play_id)
    assert entry is not None and entry.status == "ROLLED_BACK"
    assert entry.compensation_failure is None and entry.resumed_at
    assert ledger.failure_of(entry)["step"] == "CreateDialogue"  # type: ignore[index]
    rolled_back = [
        e
        for e in local_aws.published_events(compensation_failed.play_id)
        if e["detail-type"] == "PlayRolledBack"
    ]
    assert rolled_back
    with pytest.raises(CannotResume, match="ROLLED_BACK"):
        resume(compensation_failed.play_id, state_machine_arn=local_aws.resources.state_machine_arn)


def test_a_completed_or_unknown_play_is_not_resumed(local_aws: LocalAws) -> None:
    report = run_saga(local_aws, "INT. ROOM - DAY\n\nBOB\nHello.\n")
    with pytest.raises(CannotResume, match="COMPLETED"):
        resume(report.play_id, state_machine_arn=local_aws.resources.state_machine_arn)
    with pytest.raises(CannotResume, match="no play"):
        resume("f" * 32, state_machine_arn=local_aws.resources.state_machine_arn)


def test_a_stuck_saga_is_listed_and_can_be_resumed(local_aws: LocalAws) -> None:
    # Given a ledger entry RUNNING for an hour whose execution never started (the intake died
    # between writing the ledger and starting the saga), and one that started a minute ago.
    long_ago = ledger.timestamp(datetime.now(UTC) - timedelta(hours=1))
    recent = ledger.timestamp(datetime.now(UTC) - timedelta(minutes=1))
    ids = []
    for created in (long_ago, recent):
        play_id = uuid.uuid4().hex
        ids.append(play_id)
        ledger.LedgerRow(
            play_id=play_id,
            saga_id=execution_name(play_id),
            status="RUNNING",
            title="Stuck",
            created_at=created,
            updated_at=created,
            request_hash="x",
            execution_arn=local_aws.resources.state_machine_arn.replace(":stateMachine:", ":execution:")
            + f":{execution_name(play_id)}",
            play_prefix="",
            counts={"script": 1, "acts": 1, "scenes": 1, "characters": 1, "dialogue": 1, "transitions": 0},
            steps={},
        ).save()

    stuck = {s.play_id: s for s in stuck_sagas(timedelta(minutes=15))}

    assert ids[0] in stuck and ids[1] not in stuck
    assert stuck[ids[0]].execution_status == "NOT_STARTED"
    arn = resume(ids[0], state_machine_arn=local_aws.resources.state_machine_arn)
    _wait(local_aws, arn)
    entry = ledger.get_entry(ids[0])
    assert entry is not None and entry.status == "ROLLED_BACK"
    assert ids[0] not in {s.play_id for s in stuck_sagas(timedelta(minutes=15))}
