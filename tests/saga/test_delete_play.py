"""The delete saga on moto's Step Functions engine with the real handlers: the pivot first
(readers get 410 from then on), then steps that are retried until done and never undone.

Whatever fails, a deletion either ends with no row of the play in any table and a tombstone in
the ledger, or stays DELETING, loudly, until its resume finishes it.
"""

from __future__ import annotations

import pytest

from fountain_local.runtime import LocalAws
from fountain_local.saga_run import run_deletion, run_revision, run_saga
from fountain_saga import topology
from fountain_saga.entities.heads import read_head
from fountain_saga.entities.reader import PlayBeingDeleted, read_play, rows_of_play
from fountain_saga.play.fountain_import import parse_play
from fountain_saga.saga import ledger
from fountain_saga.saga.faults import FaultPlan
from fountain_saga.saga.intake import PlayRequest
from fountain_saga.saga.play_changes import PlayGone, start_deletion, start_revision
from fountain_saga.saga.recovery import resume
from tests.conftest import corpus_text, example_text
from tests.saga.plays import NO_ROWS, completed_play, entry_of

pytestmark = pytest.mark.slow


def _assert_deleted(aws: LocalAws, play_id: str) -> None:
    assert rows_of_play(play_id) == NO_ROWS  # no row of any version, and no head
    assert read_play(play_id) is None
    entry = entry_of(play_id)  # the tombstone
    assert (entry.operation, entry.status, entry.play_status) == ("delete", "COMPLETED", "DELETED")
    assert [e["detail-type"] for e in aws.published_events(play_id)][-1] == "PlayDeleted"


def test_a_deletion_removes_every_row_of_every_version_and_keeps_a_tombstone(local_aws: LocalAws) -> None:
    play_id = completed_play(local_aws)
    bystander = completed_play(local_aws)
    # A revision whose clean-up is pending leaves rows of two versions: the deletion takes both.
    pending = run_revision(
        local_aws, play_id, corpus_text("play-salt-ferry"), fault=FaultPlan(step="CleanUpActs")
    )
    assert pending.status == "CLEANUP_PENDING"
    resume(play_id, state_machine_arn=local_aws.resources.state_machine_arn)
    local_aws.wait_for_executions()

    report = run_deletion(local_aws, play_id, if_match=2)

    assert (report.status, report.execution_status) == ("COMPLETED", "SUCCEEDED")
    _assert_deleted(local_aws, play_id)
    entry = entry_of(play_id)
    assert {v.name: v.status for v in ledger.step_views(entry)} == dict.fromkeys(
        topology.DELETE_STEPS, "SUCCEEDED"
    )
    assert [s.operation for s in ledger.saga_history(play_id, entry)] == ["delete", "revise", "create"]
    # Deleting it again is the same deletion; revising it is refused.
    again = start_deletion(play_id, state_machine_arn=local_aws.resources.state_machine_arn)
    assert (again.replayed, again.play_status, again.saga_id) == (True, "DELETED", entry.saga_id)
    with pytest.raises(PlayGone, match="DELETED"):
        start_revision(
            play_id, PlayRequest(text=example_text()), state_machine_arn=local_aws.resources.state_machine_arn
        )
    # A play nobody asked to delete is untouched.
    stored = read_play(bystander)
    assert stored is not None and stored.version == 1 and stored.document == parse_play(example_text())


def test_a_play_that_was_rolled_back_can_be_deleted_with_nothing_to_remove(local_aws: LocalAws) -> None:
    failed = run_saga(local_aws, example_text(), fault=FaultPlan(step="CreateScenes"))
    assert failed.status == "ROLLED_BACK"

    report = run_deletion(local_aws, failed.play_id)

    assert report.status == "COMPLETED"
    _assert_deleted(local_aws, failed.play_id)
    assert {v.name: v.rows for v in ledger.step_views(entry_of(failed.play_id))}["MarkDeleting"] == 0


@pytest.mark.parametrize("step", topology.DELETE_STEPS)
def test_a_transient_failure_at_any_step_still_deletes_the_play(step: str, local_aws: LocalAws) -> None:
    play_id = completed_play(local_aws)

    report = run_deletion(local_aws, play_id, fault=FaultPlan(step=step, failures=2))

    assert report.status == "COMPLETED"
    _assert_deleted(local_aws, play_id)
    assert not [s for s in report.steps if not s.ok]


@pytest.mark.parametrize("step", topology.DELETE_STEPS)
def test_a_permanent_failure_stays_deleting_until_resumed(step: str, local_aws: LocalAws) -> None:
    play_id = completed_play(local_aws)

    report = run_deletion(local_aws, play_id, fault=FaultPlan(step=step, mode="before"))

    assert (report.status, report.execution_status) == ("CLEANUP_PENDING", "FAILED")
    entry = entry_of(play_id)
    assert entry.play_status == "DELETING"
    pending = ledger.cleanup_failure_of(entry)
    assert pending is not None and (pending["step"], pending["error"]) == (step, "InjectedFault")
    (event,) = [e for e in local_aws.published_events(play_id) if e["detail-type"] == "PlayCleanupPending"]
    assert event["detail"]["operation"] == "delete"
    if step != topology.DELETE_PIVOT:
        # Past the pivot: readers are told the play is going, never shown what is left of it.
        head = read_head(play_id)
        assert head is not None and head.status == "DELETING"
        with pytest.raises(PlayBeingDeleted):
            read_play(play_id)

    arn = resume(play_id, state_machine_arn=local_aws.resources.state_machine_arn)

    local_aws.wait_for_executions()
    assert local_aws.client("stepfunctions").describe_execution(executionArn=arn)["status"] == "SUCCEEDED"
    _assert_deleted(local_aws, play_id)
    assert ledger.cleanup_failure_of(entry_of(play_id)) is None
