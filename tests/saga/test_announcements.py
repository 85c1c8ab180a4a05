"""A saga that has ended stays ended when its event cannot be published: the execution ends as the
saga did, the ledger records the event as owed, and the sweeper publishes it, exactly as the state
machine would have, and clears the mark."""

from __future__ import annotations

import json
from typing import Any

import pytest
from moto.events.exceptions import JsonRESTError, ResourceNotFoundException
from moto.events.models import EventsBackend

from fountain_local.runtime import LocalAws
from fountain_local.saga_run import SagaReport, run_saga
from fountain_saga import topology
from fountain_saga.play.fountain_import import parse_play
from fountain_saga.saga import ledger
from fountain_saga.saga.faults import CompensationFault, FaultPlan
from tests.conftest import example_text
from tests.saga.conftest import Sweeper

NO_ROWS = dict.fromkeys(("script", "acts", "scenes", "characters", "dialogue", "transitions"), 0)
EXPECTED = {"script": 1, **parse_play(example_text()).counts()}


class _Throttled(JsonRESTError):
    code = 400

    def __init__(self) -> None:
        super().__init__("ThrottlingException", "Rate exceeded")


def _refuses_every_call(self: EventsBackend, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    raise _Throttled()


def _fails_every_entry(self: EventsBackend, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"ErrorCode": "InternalFailure", "ErrorMessage": "Internal failure"} for _ in events]


def _events(aws: LocalAws, play_id: str, detail_type: str) -> list[dict[str, Any]]:
    return [e for e in aws.published_events(play_id) if e["detail-type"] == detail_type]


def _execution(aws: LocalAws, report: SagaReport) -> dict[str, Any]:
    arn = (
        aws.resources.state_machine_arn.replace(":stateMachine:", ":execution:") + f":create-{report.play_id}"
    )
    description: dict[str, Any] = aws.client("stepfunctions").describe_execution(executionArn=arn)
    return description


def _owed(play_id: str) -> dict[str, Any] | None:
    entry = ledger.get_entry(play_id)
    assert entry is not None
    owed = ledger.announcement_of(entry)
    assert (entry.owes == ledger.OWES_ANNOUNCEMENT) == (owed is not None)
    return owed


def _mine(result: dict[str, Any], kind: str, play_id: str) -> list[dict[str, Any]]:
    return [a for a in result["announcements"][kind] if a["playId"] == play_id]


def test_a_completed_play_whose_event_cannot_be_published_succeeds_and_the_sweeper_publishes_it(
    local_aws: LocalAws, sweeper: Sweeper, monkeypatch: pytest.MonkeyPatch
) -> None:
    # What a play's PlayCreated looks like when the bus takes it.
    published = run_saga(local_aws, example_text())
    (expected,) = _events(local_aws, published.play_id, "PlayCreated")
    with monkeypatch.context() as patch:
        patch.setattr(EventsBackend, "put_events", _refuses_every_call)
        report = run_saga(local_aws, example_text())

    # The saga completed and its execution says so: no failed-execution alarm for a play that is fine.
    assert (report.status, report.execution_status) == ("COMPLETED", "SUCCEEDED")
    assert report.counts == EXPECTED
    execution = _execution(local_aws, report)
    assert "error" not in execution
    owed = _owed(report.play_id)
    assert owed is not None
    assert (owed["detailType"], owed["error"]) == ("PlayCreated", "EventBridge.ThrottlingException")
    assert "Rate exceeded" in owed["cause"]
    assert (owed["eventBusName"], owed["source"]) == (local_aws.resources.event_bus, topology.EVENT_SOURCE)
    assert json.loads(owed["detail"]) == {**expected["detail"], "playId": report.play_id}
    assert not _events(local_aws, report.play_id, "PlayCreated")

    result = sweeper()

    (republished,) = _mine(result, "published", report.play_id)
    assert republished["detailType"] == "PlayCreated" and republished["owedAt"] == owed["owedAt"]
    assert sweeper.metrics["AnnouncementsRepublished"] >= 1
    (event,) = _events(local_aws, report.play_id, "PlayCreated")
    # The event subscribers get is the one the state machine would have put on the bus.
    assert event["detail"] == {**expected["detail"], "playId": report.play_id}
    assert event["detail"]["counts"] == EXPECTED
    assert (event["source"], event["detail-type"]) == (expected["source"], expected["detail-type"])
    assert event["resources"] == [local_aws.resources.state_machine_arn, execution["executionArn"]]
    assert expected["resources"] == [
        local_aws.resources.state_machine_arn,
        _execution(local_aws, published)["executionArn"],
    ]
    assert _owed(report.play_id) is None
    entry = ledger.get_entry(report.play_id)
    assert entry is not None and entry.status == "COMPLETED"
    # Published once: the next sweep finds nothing owed for it.
    assert not _mine(sweeper(), "published", report.play_id)
    assert len(_events(local_aws, report.play_id, "PlayCreated")) == 1


def test_a_rolled_back_play_whose_event_stays_unpublished_ends_as_rolled_back_and_stays_owed_across_sweeps(
    local_aws: LocalAws, sweeper: Sweeper, monkeypatch: pytest.MonkeyPatch
) -> None:
    with monkeypatch.context() as patch:
        patch.setattr(EventsBackend, "put_events", _fails_every_entry)
        report = run_saga(local_aws, example_text(), fault=FaultPlan(step="CreateActs"))

        # The saga rolled back, and its execution ends in RolledBack, the designed end of a rollback.
        assert report.status == "ROLLED_BACK" and report.counts == NO_ROWS
        execution = _execution(local_aws, report)
        assert (execution["status"], execution["error"]) == ("FAILED", "CreateActs.InjectedFault")
        owed = _owed(report.play_id)
        assert owed is not None
        assert (owed["detailType"], owed["error"]) == ("PlayRolledBack", "EventBridge.FailedEntry")
        assert json.loads(owed["cause"])["FailedEntryCount"] == 1
        entry = ledger.get_entry(report.play_id)
        assert entry is not None
        failure = ledger.failure_of(entry)
        rolled_back = {
            "playId": report.play_id,
            "operation": "create",
            "status": "ROLLED_BACK",
            "failure": failure,
        }
        assert json.loads(owed["detail"]) == rolled_back

        # The bus still refuses it: the sweeper tries, and it stays owed, for the alarm.
        first = sweeper()
        (still,) = _mine(first, "stillOwed", report.play_id)
        assert still["republishError"] == "InternalFailure: Internal failure"
        assert sweeper.metrics["AnnouncementsStillOwed"] >= 1
        assert _owed(report.play_id) == owed

    result = sweeper()

    assert _mine(result, "published", report.play_id)
    assert not _mine(result, "stillOwed", report.play_id)
    (event,) = _events(local_aws, report.play_id, "PlayRolledBack")
    assert event["detail"] == rolled_back
    assert _owed(report.play_id) is None


def _bus_missing(self: EventsBackend, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    raise ResourceNotFoundException("Event bus fountain-events does not exist.")


def test_a_failed_compensation_whose_event_cannot_be_published_still_ends_loudly_and_is_announced_later(
    local_aws: LocalAws, sweeper: Sweeper, monkeypatch: pytest.MonkeyPatch
) -> None:
    fault = FaultPlan(step="CreateDialogue", compensation=CompensationFault("DeleteActs"))
    with monkeypatch.context() as patch:
        patch.setattr(EventsBackend, "put_events", _bus_missing)
        report = run_saga(local_aws, example_text(), fault=fault)

    # CompensationFailed, as ever: its alarm comes from the execution log, not from the event.
    assert report.status == "COMPENSATION_FAILED"
    execution = _execution(local_aws, report)
    assert (execution["status"], execution["error"]) == ("FAILED", "DeleteActs.InjectedFault")
    owed = _owed(report.play_id)
    assert owed is not None
    assert owed["detailType"] == "PlayCompensationFailed"
    assert owed["error"] == "EventBridge.ResourceNotFoundException"
    assert "does not exist" in owed["cause"]

    result = sweeper()

    assert _mine(result, "published", report.play_id)
    (event,) = _events(local_aws, report.play_id, "PlayCompensationFailed")
    assert event["detail"]["compensationFailure"]["step"] == "DeleteActs"
    assert event["detail"]["failure"]["step"] == "CreateDialogue"
    assert _owed(report.play_id) is None
