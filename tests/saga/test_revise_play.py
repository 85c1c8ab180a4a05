"""The revise saga on moto's Step Functions engine with the real handlers: a draft written beside
the play, a pivot that makes it current, and a clean-up that only goes forward.

Before the pivot a failure leaves the play as it was (its version, its text, no row of the
draft); after it, the new version is the play and the old one's rows go, whatever fails, once
the resume has run.
"""

from __future__ import annotations

from typing import Any

import pytest

from fountain_local.runtime import LocalAws
from fountain_local.saga_run import run_revision, run_saga
from fountain_saga import topology
from fountain_saga.entities import heads, reader, service
from fountain_saga.entities.reader import count_rows, read_play
from fountain_saga.entities.service import StepRequest
from fountain_saga.play.fountain_import import parse_play
from fountain_saga.saga import ledger
from fountain_saga.saga.faults import CompensationFault, FaultPlan
from fountain_saga.saga.intake import PlayRequest
from fountain_saga.saga.play_changes import (
    PreconditionFailed,
    SagaInProgress,
    start_revision,
)
from fountain_saga.saga.recovery import resume
from tests.conftest import example_text
from tests.saga.plays import (
    DRAFT_TEXT,
    NO_ROWS,
    PRE_PIVOT,
    assert_at,
    completed_play,
    entry_of,
    rows_of,
)

pytestmark = pytest.mark.slow


def test_a_revision_makes_the_draft_the_play_and_removes_the_old_version(local_aws: LocalAws) -> None:
    play_id = completed_play(local_aws)

    report = run_revision(local_aws, play_id, DRAFT_TEXT, if_match=1)

    assert (report.status, report.execution_status) == ("COMPLETED", "SUCCEEDED")
    assert_at(play_id, 2, DRAFT_TEXT)
    assert count_rows(play_id, version=1) == NO_ROWS
    entry = entry_of(play_id)
    assert (entry.operation, int(entry.saga_no), entry.title) == (
        "revise",
        2,
        parse_play(DRAFT_TEXT).script.title,
    )
    assert {v.name: v.status for v in ledger.step_views(entry)} == dict.fromkeys(
        topology.REVISE_STEPS, "SUCCEEDED"
    )
    assert [s.operation for s in ledger.saga_history(play_id, entry)] == ["revise", "create"]
    (revised,) = [e for e in local_aws.published_events(play_id) if e["detail-type"] == "PlayRevised"]
    assert revised["detail"]["version"] == 2 and revised["detail"]["counts"] == rows_of(DRAFT_TEXT)


def test_the_number_of_state_transitions_does_not_grow_with_the_play(local_aws: LocalAws) -> None:
    from bench.playgen import generate_play

    transitions = set()
    for speeches in (20, 400):
        play_id = run_saga(local_aws, generate_play(speeches, seed=1)).play_id
        report = run_revision(local_aws, play_id, generate_play(speeches, seed=2))
        assert report.status == "COMPLETED"
        transitions.add(report.state_transitions)
    assert len(transitions) == 1


# Every step after part of its work ("before" at a Create step is the create saga's matrix again),
# and the pivot before its write too: a pivot that failed without switching compensates the same.
@pytest.mark.parametrize(
    ("step", "mode"), [*((step, "partial") for step in PRE_PIVOT), (topology.REVISE_PIVOT, "before")]
)
def test_a_failure_before_the_pivot_leaves_the_play_as_it_was(
    step: str, mode: str, local_aws: LocalAws
) -> None:
    play_id = completed_play(local_aws)

    report = run_revision(local_aws, play_id, DRAFT_TEXT, fault=FaultPlan(step=step, mode=mode))  # type: ignore[arg-type]

    assert report.status == "ROLLED_BACK"
    assert_at(play_id, 1, example_text())
    assert count_rows(play_id, version=2) == NO_ROWS  # no row of the draft
    failure = ledger.failure_of(entry_of(play_id))
    assert failure is not None and (failure["step"], failure["error"]) == (step, "InjectedFault")
    # The draft's compensations ran from the failed step's own, down to DeleteScript.
    compensated = [s.name for s in report.steps if s.compensation]
    assert compensated[-1] == "DeleteScript" and all(s.ok for s in report.steps if s.compensation)
    if step == topology.REVISE_PIVOT:
        assert compensated[0] == topology.REVISE_PIVOT_COMPENSATION
        # The play is free again. The draft's number is not: its client was told "2" in the 202,
        # so 2 must never name another text; the next revision is 3.
        with pytest.raises(PreconditionFailed, match="is at version 1, not 2"):
            run_revision(local_aws, play_id, DRAFT_TEXT, if_match=2)
        assert run_revision(local_aws, play_id, DRAFT_TEXT, if_match=1).status == "COMPLETED"
        assert_at(play_id, 3, DRAFT_TEXT)
        assert count_rows(play_id, version=2) == count_rows(play_id, version=1) == NO_ROWS


def test_a_draft_whose_compensation_keeps_failing_is_loud_and_holds_the_play(local_aws: LocalAws) -> None:
    play_id = completed_play(local_aws)
    fault = FaultPlan(step="CreateDialogue", compensation=CompensationFault("DeleteActs"))

    report = run_revision(local_aws, play_id, DRAFT_TEXT, fault=fault)

    assert report.status == "COMPENSATION_FAILED"
    # Readers still get the play they had; the draft's acts are what is left to remove.
    stored = read_play(play_id)
    assert stored is not None and stored.version == 1 and stored.document == parse_play(example_text())
    # DeleteActs stopped the chain: the draft's acts, and its script row below them, remain.
    assert count_rows(play_id, version=2) == {**NO_ROWS, "script": 1, "acts": rows_of(DRAFT_TEXT)["acts"]}
    with pytest.raises(SagaInProgress, match="COMPENSATION_FAILED"):
        start_revision(
            play_id, PlayRequest(text=DRAFT_TEXT), state_machine_arn=local_aws.resources.state_machine_arn
        )
    arn = resume(play_id, state_machine_arn=local_aws.resources.state_machine_arn)
    local_aws.wait_for_executions()
    assert local_aws.client("stepfunctions").describe_execution(executionArn=arn)["status"] == "FAILED"
    assert entry_of(play_id).status == "ROLLED_BACK"
    assert_at(play_id, 1, example_text())


def test_a_stale_version_is_refused_before_anything_is_written(local_aws: LocalAws) -> None:
    play_id = completed_play(local_aws)
    run_revision(local_aws, play_id, DRAFT_TEXT, if_match=1)

    with pytest.raises(PreconditionFailed, match="is at version 2, not 1"):
        start_revision(
            play_id,
            PlayRequest(text=example_text()),
            if_match=1,
            state_machine_arn=local_aws.resources.state_machine_arn,
        )
    assert_at(play_id, 2, DRAFT_TEXT)


def test_the_pivot_refuses_a_play_that_moved_on(local_aws: LocalAws) -> None:
    """Two revisions based on one version: the second pivot finds the first one's and fails."""
    play_id = completed_play(local_aws)
    heads.switch_version(play_id, 1, 2, "revise-a")
    with pytest.raises(
        heads.VersionConflict, match="no longer at version 1: its head is ACTIVE at version 2"
    ):
        heads.switch_version(play_id, 1, 2, "revise-b")
    heads.switch_version(play_id, 1, 2, "revise-a")  # the same saga's retry finds its own change
    assert heads.restore_version(play_id, 1, 2, "revise-b") is False
    assert heads.restore_version(play_id, 1, 2, "revise-a") is True
    assert heads.read_head(play_id) == heads.Head(1, "ACTIVE", "revise-a")


def test_of_two_revisions_that_read_the_play_at_once_only_one_takes_it(
    local_aws: LocalAws, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The second read the play before the first took it: its conditional write finds the item
    changed and it is refused, without a saga. (Ten at once, through the API on a real DynamoDB
    engine, are in tests/e2e: moto's in-process DynamoDB does not make conditional writes atomic
    across threads, as DynamoDB and dynalite do.)"""
    play_id = completed_play(local_aws)
    bystander = completed_play(local_aws)
    stale = entry_of(play_id)
    first = start_revision(
        play_id,
        PlayRequest(text=DRAFT_TEXT),
        if_match=1,
        state_machine_arn=local_aws.resources.state_machine_arn,
    )
    reads = iter([stale])
    real = ledger.get_entry
    monkeypatch.setattr(ledger, "get_entry", lambda pid: next(reads, None) or real(pid))

    with pytest.raises(SagaInProgress, match=f"has a revise saga RUNNING \\({first.saga_id}\\)"):
        start_revision(
            play_id,
            PlayRequest(text=example_text()),
            if_match=1,
            state_machine_arn=local_aws.resources.state_machine_arn,
        )

    local_aws.wait_for_executions()
    entry = entry_of(play_id)
    assert (entry.status, int(entry.version), int(entry.saga_no)) == ("COMPLETED", 2, 2)
    assert_at(play_id, 2, DRAFT_TEXT)
    assert [s.saga_id for s in ledger.saga_history(play_id, entry)] == [first.saga_id, f"create-{play_id}"]
    assert_at(bystander, 1, example_text())


def test_a_reader_never_sees_a_mix_of_two_versions(
    local_aws: LocalAws, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A pivot, and the clean-up of the rows being read, between a reader's head and its last
    Query: the reader notices the head moved and reads the new version instead of half the old."""
    play_id = completed_play(local_aws)
    # Both versions' rows in place: the clean-up failed before deleting anything.
    report = run_revision(
        local_aws, play_id, DRAFT_TEXT, fault=FaultPlan(step="CleanUpTransitions", mode="before")
    )
    assert report.status == "CLEANUP_PENDING"
    saga_id = entry_of(play_id).saga_id
    assert heads.restore_version(play_id, 1, 2, saga_id)  # as it was just before the pivot
    real = reader.query_items
    moved: list[str] = []

    def pivot_and_clean_up_mid_read(client: Any, kind: str, partition: str) -> Any:
        if kind == "dialogue" and partition.endswith(".1") and not moved:
            moved.append(partition)
            heads.switch_version(play_id, 1, 2, saga_id)
            request = StepRequest(play_id, saga_id, rows_of(example_text()), version=1)
            service.delete_entities("dialogue", "CleanUpDialogue", request)
        return real(client, kind, partition)

    monkeypatch.setattr(reader, "query_items", pivot_and_clean_up_mid_read)

    stored = read_play(play_id)

    assert moved == [f"{play_id}.1"]
    assert stored is not None and stored.version == 2 and stored.document == parse_play(DRAFT_TEXT)
    monkeypatch.undo()
    resume(play_id, state_machine_arn=local_aws.resources.state_machine_arn)
    local_aws.wait_for_executions()
    assert_at(play_id, 2, DRAFT_TEXT)
