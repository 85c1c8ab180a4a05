"""What GET shows of a ledger item, whatever saga it is at: no table is read."""

from __future__ import annotations

from typing import Any

import pytest

from fountain_saga.api.views import etag, play_counts, play_status_of, play_view, saga_view
from fountain_saga.saga.ledger import LedgerRow

PLAY_ID = "a" * 32
COUNTS = {"script": 1, "acts": 2, "scenes": 4, "characters": 3, "dialogue": 17, "transitions": 2}
DONE = {"status": "SUCCEEDED", "startedAt": "2026-11-29T09:00:00.000Z", "endedAt": "2026-11-29T09:00:01.000Z"}


def _row(**values: Any) -> LedgerRow:
    defaults: dict[str, Any] = {
        "saga_id": f"create-{PLAY_ID}",
        "status": "COMPLETED",
        "play_status": "COMPLETED",
        "title": "T",
        "created_at": "2026-11-29T09:00:00.000Z",
        "updated_at": "2026-11-29T09:00:02.000Z",
        "request_hash": "h",
        "execution_arn": "arn",
        "play_prefix": "plays/x",
        "counts": COUNTS,
        "steps": {},
    }
    return LedgerRow(PLAY_ID, **{**defaults, **values})


def test_a_deletion_half_way_counts_the_kinds_it_has_not_deleted_yet() -> None:
    row = _row(
        operation="delete",
        saga_id=f"delete-{PLAY_ID}-2",
        status="RUNNING",
        play_status="DELETING",
        saga_no=2,
        steps={"MarkDeleting": DONE, "DeleteTransitions": DONE, "DeleteDialogue": DONE},
    )
    assert play_counts(row) == {"acts": 2, "scenes": 4, "characters": 3, "dialogue": 0, "transitions": 0}
    assert [s["status"] for s in saga_view(row)["steps"]][:4] == [
        "SUCCEEDED",
        "SUCCEEDED",
        "SUCCEEDED",
        "RUNNING",
    ]


def test_a_deleted_play_has_no_rows_and_keeps_its_version() -> None:
    row = _row(operation="delete", play_status="DELETED", version=3, saga_no=4)
    view = play_view(row)
    assert (view["status"], view["version"], view["saga"]["version"]) == ("DELETED", 3, 3)
    assert set(view["counts"].values()) == {0}


def test_a_running_revision_shows_the_current_version_and_the_draft_it_writes() -> None:
    row = _row(
        operation="revise",
        saga_id=f"revise-{PLAY_ID}-2",
        status="RUNNING",
        saga_no=2,
        version=1,
        draft={"version": 2, "counts": {**COUNTS, "dialogue": 40}, "title": "T2"},
        steps={"CreateScript": DONE},
    )
    view = play_view(row)
    assert (view["status"], view["version"], view["counts"]["dialogue"]) == ("COMPLETED", 1, 17)
    assert (view["saga"]["operation"], view["saga"]["version"], view["saga"]["endedAt"]) == (
        "revise",
        2,
        None,
    )
    assert view["links"]["sagas"] == f"/plays/{PLAY_ID}/sagas"


def test_a_clean_up_left_pending_is_shown_with_its_failure() -> None:
    failure = {"step": "CleanUpActs", "error": "InjectedFault", "cause": "CleanUpActs failed on purpose"}
    row = _row(operation="revise", status="CLEANUP_PENDING", saga_no=2, version=2, cleanup_failure=failure)
    saga = saga_view(row)
    assert saga["cleanupFailure"] == failure and "compensationFailure" not in saga


@pytest.mark.parametrize(
    ("saga_status", "play_status"),
    [
        ("RUNNING", "RUNNING"),
        ("COMPENSATING", "RUNNING"),
        ("COMPLETED", "COMPLETED"),
        ("ROLLED_BACK", "ROLLED_BACK"),
    ],
)
def test_an_item_from_before_plays_had_a_status_shows_its_create_sagas(
    saga_status: str, play_status: str
) -> None:
    row = _row(status=saga_status, play_status=None)
    assert play_status_of(row) == play_status
    assert play_view(row)["saga"]["operation"] == "create"


def test_the_etag_is_the_version_quoted() -> None:
    assert etag(12) == '"12"'
