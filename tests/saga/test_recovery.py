"""Sagas no execution carries on any more are finished, not forgotten: after a restart of the local
AWS, by the deployed sweeper, within a bounded number of attempts; and a resume puts the play's
lock back before its rows go."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from fountain_local import lambda_runtime
from fountain_local.lambda_runtime import resolve_handler
from fountain_local.runtime import ACCOUNT, REGION, LocalAws
from fountain_local.saga_run import run_saga
from fountain_saga import topology
from fountain_saga.entities.heads import read_head
from fountain_saga.entities.reader import COUNTED_KINDS, count_rows, load_play
from fountain_saga.play.fountain_import import parse_play
from fountain_saga.saga import intake, ledger
from fountain_saga.saga.faults import CompensationFault, FaultPlan
from fountain_saga.saga.intake import PlayRequest, execution_name, start_play
from fountain_saga.saga.recovery import recover, recover_after_restart, resume
from tests.conftest import example_text
from tests.saga.conftest import Sweeper

NO_ROWS = dict.fromkeys(("script", "acts", "scenes", "characters", "dialogue", "transitions"), 0)
EXPECTED = {"script": 1, **parse_play(example_text()).counts()}


# -- how a saga gets interrupted --------------------------------------------------------------------
class Held:
    """A step of one saga that does its work, then stays in its handler until released."""

    def __init__(self, play_id: str | None) -> None:
        self.play_id = play_id
        self.entered = threading.Event()
        self.released = threading.Event()


@contextmanager
def holding(step: str, play_id: str | None = None) -> Iterator[Held]:
    """Hold ``step`` of this play (of the first play to reach it, without one) until the block ends."""
    path = topology.function(step).handler
    real = resolve_handler(path)
    held = Held(play_id)
    taken = threading.Lock()

    def handler(event: dict[str, Any], context: Any) -> Any:
        result = real(event, context)
        with taken:
            mine = not held.entered.is_set() and held.play_id in (None, event["playId"])
            if mine:
                held.play_id = event["playId"]
                held.entered.set()
        if mine:
            held.released.wait(60)
        return result

    lambda_runtime._handlers[path] = handler
    try:
        yield held
    finally:
        held.released.set()
        lambda_runtime._handlers[path] = real


def _wait(aws: LocalAws, arn: str, timeout: float = 60) -> str:
    sfn = aws.client("stepfunctions")
    deadline = time.monotonic() + timeout
    while (status := sfn.describe_execution(executionArn=arn)["status"]) == "RUNNING":
        assert time.monotonic() < deadline, f"{arn} still RUNNING"
        time.sleep(0.02)
    return str(status)


def _stopped_after(aws: LocalAws, step: str) -> str:
    """A saga whose execution was stopped (ABORTED) just after ``step`` did its work."""
    with holding(step) as held:
        play = start_play(PlayRequest(text=example_text()), state_machine_arn=aws.resources.state_machine_arn)
        assert held.entered.wait(30), f"the saga never reached {step}"
        assert held.play_id == play.play_id
        aws.client("stepfunctions").stop_execution(executionArn=play.execution_arn)
    assert _wait(aws, play.execution_arn) == "ABORTED"
    return play.play_id


def _lost_to_a_restart(aws: LocalAws, arn: str) -> None:
    """What restarting the local server does to an execution: moto kept it in memory only, while
    the tables (and so the ledger) persist."""
    from moto.stepfunctions.parser.models import stepfunctions_parser_backends

    machine = stepfunctions_parser_backends[ACCOUNT][REGION].describe_state_machine(
        aws.resources.state_machine_arn
    )
    machine.executions[:] = [e for e in machine.executions if e.execution_arn != arn]
    sfn = aws.client("stepfunctions")
    with pytest.raises(sfn.exceptions.ExecutionDoesNotExist):
        sfn.describe_execution(executionArn=arn)


def _never_started(aws: LocalAws, monkeypatch: pytest.MonkeyPatch) -> str:
    """A saga whose intake wrote the ledger and staged the play, then died before StartExecution."""
    names: list[str] = []

    def died(state_machine_arn: str, name: str, arn: str, saga_input: str) -> None:
        names.append(name)
        raise RuntimeError("the intake's process died")

    with monkeypatch.context() as patch:
        patch.setattr(intake, "start_execution", died)
        with pytest.raises(RuntimeError, match="died"):
            start_play(PlayRequest(text=example_text()), state_machine_arn=aws.resources.state_machine_arn)
    (name,) = names
    return name.removeprefix("create-")


def _head_status(play_id: str) -> str:
    """ACTIVE while readers see the play, "unpublished" while the saga's lock hides it."""
    head = read_head(play_id)
    return head.status if head else "unpublished"


def _age(play_id: str, minutes: float) -> None:
    """Let time pass for this saga: it started ``minutes`` ago."""
    row = ledger.get_entry(play_id)
    assert row is not None
    started = ledger.timestamp(datetime.now(UTC) - timedelta(minutes=minutes))
    row.update(actions=[ledger.LedgerRow.created_at.set(started), ledger.LedgerRow.started_at.set(started)])


def _arn(aws: LocalAws, name: str) -> str:
    return aws.resources.state_machine_arn.replace(":stateMachine:", ":execution:") + f":{name}"


def _executions_of(aws: LocalAws, play_id: str) -> list[str]:
    sfn = aws.client("stepfunctions")
    pages = sfn.get_paginator("list_executions").paginate(stateMachineArn=aws.resources.state_machine_arn)
    return sorted(e["name"] for page in pages for e in page["executions"] if play_id in e["name"])


def _entry(play_id: str) -> ledger.LedgerRow:
    entry = ledger.get_entry(play_id)
    assert entry is not None
    return entry


def _events(aws: LocalAws, play_id: str, detail_type: str) -> list[dict[str, Any]]:
    return [e for e in aws.published_events(play_id) if e["detail-type"] == detail_type]


def _mine(result: dict[str, Any], kind: str, play_id: str) -> list[dict[str, Any]]:
    return [r for r in result[kind] if r["playId"] == play_id]


# -- after a restart of the local AWS ------------------------------------------------------------------
def test_after_a_restart_a_saga_whose_execution_is_gone_is_rolled_back_completely(
    local_aws: LocalAws,
) -> None:
    # Given a saga that had written rows to every table when the local AWS restarted
    play_id = _stopped_after(local_aws, "CreateTransitions")
    _lost_to_a_restart(local_aws, _arn(local_aws, execution_name(play_id)))
    assert _entry(play_id).status == "RUNNING"
    assert all(count_rows(play_id)[kind] > 0 for kind in NO_ROWS)
    lines: list[str] = []

    recoveries = recover_after_restart(local_aws.resources.state_machine_arn, lines.append)

    (recovery,) = [r for r in recoveries if r.play_id == play_id]
    assert (recovery.action, recovery.ledger_status, recovery.attempts) == ("compensate", "RUNNING", 1)
    assert (
        f"recovering play {play_id}: ledger RUNNING, execution gone after a restart → compensating"
        in "\n".join(lines)
    )
    assert recovery.execution_arn
    assert _wait(local_aws, recovery.execution_arn) == "FAILED"  # RolledBack is a Fail state
    assert count_rows(play_id) == NO_ROWS
    entry = _entry(play_id)
    assert entry.status == "ROLLED_BACK"
    assert entry.execution_arn == recovery.execution_arn  # the ledger follows the execution now
    failure = ledger.failure_of(entry)
    assert failure is not None and failure["error"] == "Saga.Interrupted"
    assert "lost when the local AWS restarted" in failure["cause"]
    assert _events(local_aws, play_id, "PlayRolledBack")


def test_after_a_restart_a_saga_that_had_published_its_play_completes_with_exact_counts(
    local_aws: LocalAws,
) -> None:
    # Given a saga whose play was published (ACTIVE, by this saga) but not yet recorded as such
    play_id = _stopped_after(local_aws, "PublishPlay")
    _lost_to_a_restart(local_aws, _arn(local_aws, execution_name(play_id)))
    assert _entry(play_id).status == "RUNNING"
    assert _head_status(play_id) == "ACTIVE"
    lines: list[str] = []

    recoveries = recover_after_restart(local_aws.resources.state_machine_arn, lines.append)

    (recovery,) = [r for r in recoveries if r.play_id == play_id]
    assert recovery.action == "finish"
    assert (
        f"recovering play {play_id}: ledger RUNNING, execution gone after a restart → completing"
        in "\n".join(lines)
    )
    assert recovery.execution_arn
    assert _wait(local_aws, recovery.execution_arn) == "SUCCEEDED"
    entry = _entry(play_id)
    assert entry.status == "COMPLETED" and entry.completed_at
    assert {v.name: v.status for v in ledger.step_views(entry)} == dict.fromkeys(
        topology.FORWARD_STEPS, "SUCCEEDED"
    )
    assert ledger.recorded_counts(entry, COUNTED_KINDS) == {k: EXPECTED[k] for k in COUNTED_KINDS}
    assert ledger.failure_of(entry) is None
    assert count_rows(play_id) == EXPECTED
    assert load_play(play_id) == parse_play(example_text())
    (created,) = _events(local_aws, play_id, "PlayCreated")
    assert created["detail"]["counts"] == EXPECTED and created["detail"]["status"] == "COMPLETED"


# -- the deployed sweeper ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("stopped_after", "outcome", "execution_outcome"),
    [("CreateScenes", "ROLLED_BACK", "FAILED"), ("PublishPlay", "COMPLETED", "SUCCEEDED")],
)
def test_the_sweeper_recovers_a_saga_whose_execution_was_aborted(
    local_aws: LocalAws, sweeper: Sweeper, stopped_after: str, outcome: str, execution_outcome: str
) -> None:
    play_id = _stopped_after(local_aws, stopped_after)
    _age(play_id, 20)  # past STUCK_AFTER_MINUTES

    result = sweeper()

    (recovery,) = _mine(result, "recovered", play_id)
    assert recovery["executionStatus"] == "ABORTED" and recovery["attempts"] == 1
    assert recovery["action"] == ("finish" if outcome == "COMPLETED" else "compensate")
    assert sweeper.metrics["SagasRecovered"] >= 1
    assert _wait(local_aws, recovery["executionArn"]) == execution_outcome
    assert _entry(play_id).status == outcome
    assert count_rows(play_id) == (EXPECTED if outcome == "COMPLETED" else NO_ROWS)
    # Once finished, it is nobody's business any more.
    again = sweeper()
    assert not any(_mine(again, kind, play_id) for kind in ("recovered", "exhausted", "stuck"))
    assert _executions_of(local_aws, play_id) == sorted(
        [execution_name(play_id), f"recover-create-{play_id}-1"]
    )


def test_the_sweeper_rolls_back_a_saga_that_never_started_and_leaves_a_fresh_one_alone(
    local_aws: LocalAws, sweeper: Sweeper, monkeypatch: pytest.MonkeyPatch
) -> None:
    abandoned = _never_started(local_aws, monkeypatch)
    fresh = _never_started(local_aws, monkeypatch)
    _age(abandoned, 10)  # past the few minutes an intake takes, though not STUCK_AFTER_MINUTES
    _age(fresh, 1)  # its intake may still be starting it

    result = sweeper()

    (recovery,) = _mine(result, "recovered", abandoned)
    assert (recovery["executionStatus"], recovery["action"]) == ("NOT_STARTED", "compensate")
    assert _wait(local_aws, recovery["executionArn"]) == "FAILED"
    assert _entry(abandoned).status == "ROLLED_BACK"
    assert count_rows(abandoned) == NO_ROWS
    assert not any(_mine(result, kind, fresh) for kind in ("recovered", "exhausted", "stuck"))
    untouched = _entry(fresh)
    assert untouched.status == "RUNNING" and untouched.recovery_attempts is None
    assert untouched.execution_arn == _arn(local_aws, execution_name(fresh))
    assert _executions_of(local_aws, fresh) == []


def test_the_sweeper_gives_up_after_three_lost_recoveries_and_reports_the_saga(
    local_aws: LocalAws, sweeper: Sweeper
) -> None:
    play_id = _stopped_after(local_aws, "CreateDialogue")
    _age(play_id, 20)
    sfn = local_aws.client("stepfunctions")

    # Each recovery is lost in turn: stopped while its first compensation runs, the one of the
    # step the saga was in.
    for attempt in range(1, topology.MAX_RECOVERY_ATTEMPTS + 1):
        with holding("DeleteDialogue", play_id) as held:
            (recovery,) = _mine(sweeper(), "recovered", play_id)
            assert recovery["attempts"] == attempt
            assert recovery["executionArn"] == _arn(local_aws, f"recover-create-{play_id}-{attempt}")
            assert held.entered.wait(30)
            sfn.stop_execution(executionArn=recovery["executionArn"])
        assert _wait(local_aws, recovery["executionArn"]) == "ABORTED"
        entry = _entry(play_id)
        assert entry.status == "COMPENSATING" and entry.execution_arn == recovery["executionArn"]

    result = sweeper()

    assert not _mine(result, "recovered", play_id)
    (exhausted,) = _mine(result, "exhausted", play_id)
    assert exhausted["attempts"] == topology.MAX_RECOVERY_ATTEMPTS and exhausted["executionArn"] is None
    assert sweeper.metrics["UnrecoverableSagas"] >= 1
    assert _executions_of(local_aws, play_id) == sorted(
        [execution_name(play_id)]
        + [f"recover-create-{play_id}-{n}" for n in range(1, topology.MAX_RECOVERY_ATTEMPTS + 1)]
    )
    assert _entry(play_id).recovery_attempts == topology.MAX_RECOVERY_ATTEMPTS
    # A restart that loses its last execution gives it no fourth attempt either, and says so.
    _lost_to_a_restart(local_aws, _entry(play_id).execution_arn)
    lines: list[str] = []
    (after_restart,) = [
        r
        for r in recover_after_restart(local_aws.resources.state_machine_arn, lines.append)
        if r.play_id == play_id
    ]
    assert (after_restart.action, after_restart.execution_arn) == ("exhausted", None)
    assert f"not recovering play {play_id}: ledger COMPENSATING, execution gone after a restart" in "\n".join(
        lines
    )
    assert "left to an operator" in "\n".join(lines)
    assert len(_executions_of(local_aws, play_id)) == topology.MAX_RECOVERY_ATTEMPTS  # the lost one is gone
    # An operator's resume, once the cause is found, still ends it.
    arn = resume(play_id, state_machine_arn=local_aws.resources.state_machine_arn)
    assert _wait(local_aws, arn) == "FAILED"
    assert _entry(play_id).status == "ROLLED_BACK"
    assert count_rows(play_id) == NO_ROWS


def test_two_sweepers_that_find_the_same_lost_saga_start_one_recovery(local_aws: LocalAws) -> None:
    play_id = _stopped_after(local_aws, "CreateActs")
    first, second = _entry(play_id), _entry(play_id)  # each read before either acts

    started = [
        recover(row, "ABORTED", state_machine_arn=local_aws.resources.state_machine_arn, why="test")
        for row in (first, second)
    ]

    assert started[0] is not None and started[1] is None
    assert started[0].execution_arn
    _wait(local_aws, started[0].execution_arn)
    assert _executions_of(local_aws, play_id) == sorted(
        [execution_name(play_id), f"recover-create-{play_id}-1"]
    )
    assert _entry(play_id).status == "ROLLED_BACK"


def test_sagas_that_ended_or_whose_execution_still_runs_are_never_touched(
    local_aws: LocalAws, sweeper: Sweeper
) -> None:
    completed = run_saga(local_aws, example_text()).play_id
    rolled_back = run_saga(local_aws, example_text(), fault=FaultPlan(step="CreateScenes")).play_id
    failed = run_saga(
        local_aws,
        example_text(),
        fault=FaultPlan(step="CreateScenes", compensation=CompensationFault("DeleteActs")),
    ).play_id
    with holding("CreateActs") as held:
        running = start_play(
            PlayRequest(text=example_text()), state_machine_arn=local_aws.resources.state_machine_arn
        )
        assert held.entered.wait(30) and held.play_id == running.play_id
        ended = (completed, rolled_back, failed)
        for play_id in (*ended, running.play_id):
            _age(play_id, 60)
        before = {p: _entry(p).serialize() for p in (*ended, running.play_id)}

        result = sweeper()
        recoveries = recover_after_restart(local_aws.resources.state_machine_arn, lambda line: None)

        for play_id in (*ended, running.play_id):
            assert not _mine(result, "recovered", play_id) and not _mine(result, "exhausted", play_id)
            assert play_id not in {r.play_id for r in recoveries}
            assert _entry(play_id).serialize() == before[play_id]
            assert _executions_of(local_aws, play_id) == [execution_name(play_id)]
        # The one still running is past the cutoff: stuck, for the StuckSagas alarm, not recovered.
        (stuck,) = _mine(result, "stuck", running.play_id)
        assert stuck["executionStatus"] == "RUNNING"
        assert sweeper.metrics["StuckSagas"] >= 1
    assert _wait(local_aws, running.execution_arn) == "SUCCEEDED"
    assert _entry(running.play_id).status == "COMPLETED"
    assert [_entry(p).status for p in ended] == ["COMPLETED", "ROLLED_BACK", "COMPENSATION_FAILED"]


# -- resume and the semantic lock ---------------------------------------------------------------------
def test_a_resume_puts_the_lock_back_before_the_rows_of_a_published_play_go(local_aws: LocalAws) -> None:
    # Given a play that was published, then failed, and whose unpublishing kept failing
    fault = FaultPlan(step="PublishPlay", mode="partial", compensation=CompensationFault("UnpublishPlay"))
    report = run_saga(local_aws, example_text(), fault=fault)
    play_id = report.play_id
    assert report.status == "COMPENSATION_FAILED"
    assert _head_status(play_id) == "ACTIVE"
    assert count_rows(play_id) == EXPECTED
    seen: list[str] = []
    path = topology.function("DeleteTransitions").handler
    first_delete = resolve_handler(path)

    def watch(event: dict[str, Any], context: Any) -> Any:
        if event["playId"] == play_id:
            seen.append(_head_status(play_id))
            seen.append("readable" if load_play(play_id) is not None else "hidden")
        return first_delete(event, context)

    lambda_runtime._handlers[path] = watch
    try:
        arn = resume(play_id, state_machine_arn=local_aws.resources.state_machine_arn)
        assert _wait(local_aws, arn) == "FAILED"
    finally:
        lambda_runtime._handlers[path] = first_delete

    assert seen[:2] == ["unpublished", "hidden"]  # locked before the first row went
    entry = _entry(play_id)
    unpublish = {v.name: v for v in ledger.step_views(entry)}["UnpublishPlay"]
    assert (unpublish.status, unpublish.rows) == ("COMPENSATED", 1)
    assert entry.status == "ROLLED_BACK" and entry.execution_arn == arn
    assert count_rows(play_id) == NO_ROWS


def test_the_local_server_runs_the_sweeper_on_its_schedule(
    local_aws: LocalAws, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`fountain-saga serve` runs the deployed sweeper through the local Lambda, as EventBridge's
    schedule does on AWS (here every few milliseconds instead of five minutes)."""
    from fountain_local.server import Sweeper as Schedule

    abandoned = _never_started(local_aws, monkeypatch)
    _age(abandoned, 10)
    lines: list[str] = []
    schedule = Schedule(local_aws, lines.append, interval=0.05)
    schedule.start()
    try:
        deadline = time.monotonic() + 30
        while _entry(abandoned).status != "ROLLED_BACK" and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        schedule.stop()
        # It may have recovered other tests' sagas too (the local AWS is the session's): their
        # executions must end before later tests read the ledger.
        local_aws.wait_for_executions()
    assert _entry(abandoned).status == "ROLLED_BACK"
    assert count_rows(abandoned) == NO_ROWS
    assert "sweeper: recovered 1" in lines
