"""A revision past its pivot only goes forward: its clean-up of the version it replaced is
retried until done, waits for the resume when it keeps failing, and is finished by a recovery
even when the pivot was never recorded.
"""

from __future__ import annotations

from typing import Any

import pytest

from fountain_local.runtime import LocalAws
from fountain_local.saga_run import run_revision
from fountain_saga import topology
from fountain_saga.entities.reader import count_rows, read_play
from fountain_saga.play.fountain_import import parse_play
from fountain_saga.saga import ledger
from fountain_saga.saga.faults import FaultPlan
from fountain_saga.saga.intake import PlayRequest
from fountain_saga.saga.play_changes import SagaInProgress, start_revision
from fountain_saga.saga.recovery import recover, resume
from tests.conftest import example_text
from tests.saga.plays import (
    CLEANUPS,
    DRAFT_TEXT,
    NO_ROWS,
    assert_at,
    completed_play,
    entry_of,
)

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("step", CLEANUPS)
def test_a_transient_failure_after_the_pivot_still_completes(step: str, local_aws: LocalAws) -> None:
    play_id = completed_play(local_aws)

    report = run_revision(local_aws, play_id, DRAFT_TEXT, fault=FaultPlan(step=step, failures=2))

    assert report.status == "COMPLETED"
    assert_at(play_id, 2, DRAFT_TEXT)
    assert count_rows(play_id, version=1) == NO_ROWS
    retried = [s for s in report.steps if s.name == step]
    assert len(retried) == 1 and retried[0].ok


@pytest.mark.parametrize("step", CLEANUPS)
def test_a_permanent_failure_after_the_pivot_is_cleanup_pending_until_resumed(
    step: str, local_aws: LocalAws
) -> None:
    play_id = completed_play(local_aws)

    report = run_revision(local_aws, play_id, DRAFT_TEXT, fault=FaultPlan(step=step))

    # Past the pivot: the new version is the play, never rolled back; the old rows wait.
    assert (report.status, report.execution_status) == ("CLEANUP_PENDING", "FAILED")
    entry = entry_of(play_id)
    assert (entry.play_status, int(entry.version)) == ("COMPLETED", 2)
    stored = read_play(play_id)
    assert stored is not None and stored.version == 2 and stored.document == parse_play(DRAFT_TEXT)
    pending = ledger.cleanup_failure_of(entry)
    assert pending is not None and (pending["step"], pending["error"]) == (step, "InjectedFault")
    assert not [s for s in report.steps if s.compensation]
    (event,) = [e for e in local_aws.published_events(play_id) if e["detail-type"] == "PlayCleanupPending"]
    assert event["detail"]["cleanupFailure"]["step"] == step
    # The play is held until the clean-up is finished: no new saga may start on it.
    with pytest.raises(SagaInProgress, match="CLEANUP_PENDING"):
        start_revision(
            play_id, PlayRequest(text=example_text()), state_machine_arn=local_aws.resources.state_machine_arn
        )

    arn = resume(play_id, state_machine_arn=local_aws.resources.state_machine_arn)

    local_aws.wait_for_executions()
    assert local_aws.client("stepfunctions").describe_execution(executionArn=arn)["status"] == "SUCCEEDED"
    assert entry_of(play_id).status == "COMPLETED" and ledger.cleanup_failure_of(entry_of(play_id)) is None
    assert_at(play_id, 2, DRAFT_TEXT)
    assert count_rows(play_id, version=1) == NO_ROWS


def test_a_revision_lost_after_its_pivot_is_carried_forward_though_the_ledger_missed_the_pivot(
    local_aws: LocalAws,
) -> None:
    play_id = completed_play(local_aws)
    # The pivot happened (the head is at the draft) and the execution was lost before the ledger
    # recorded it: what a crash between SwitchVersion and RecordSwitchVersion leaves.
    report = run_revision(
        local_aws, play_id, DRAFT_TEXT, fault=FaultPlan(step="CleanUpTransitions", mode="before")
    )
    assert report.status == "CLEANUP_PENDING"
    entry = entry_of(play_id)
    previous = ledger.plain(entry.previous)
    entry.update(
        actions=[
            ledger.LedgerRow.status.set("RUNNING"),
            ledger.LedgerRow.version.set(previous["version"]),
            ledger.LedgerRow.counts.set(previous["counts"]),
            ledger.LedgerRow.steps[topology.REVISE_PIVOT].remove(),
            ledger.LedgerRow.cleanup_failure.remove(),
        ]
    )
    row = entry_of(play_id)

    recovery = recover(row, "ABORTED", state_machine_arn=local_aws.resources.state_machine_arn, why="test")

    assert recovery is not None and recovery.action == "finish" and recovery.execution_arn
    local_aws.wait_for_executions()
    assert entry_of(play_id).status == "COMPLETED"
    assert_at(play_id, 2, DRAFT_TEXT)
    assert count_rows(play_id, version=1) == NO_ROWS


def test_a_revision_whose_execution_never_started_is_compensated(
    local_aws: LocalAws, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fountain_saga.saga import play_changes

    play_id = completed_play(local_aws)

    def died(*_: Any) -> None:
        raise RuntimeError("the intake's process died")

    with monkeypatch.context() as patch:
        patch.setattr(play_changes, "start_execution", died)
        with pytest.raises(RuntimeError, match="died"):
            start_revision(
                play_id, PlayRequest(text=DRAFT_TEXT), state_machine_arn=local_aws.resources.state_machine_arn
            )
    row = entry_of(play_id)
    assert (row.operation, row.status) == ("revise", "RUNNING")
    # Readers never noticed: the play they see is the one it had.
    stored = read_play(play_id)
    assert stored is not None and stored.version == 1

    recovery = recover(
        row, "NOT_STARTED", state_machine_arn=local_aws.resources.state_machine_arn, why="test"
    )

    assert recovery is not None and recovery.action == "compensate"
    local_aws.wait_for_executions()
    assert entry_of(play_id).status == "ROLLED_BACK"
    assert_at(play_id, 1, example_text())
    assert count_rows(play_id, version=2) == NO_ROWS
