"""GET /plays/{playId}/sagas one page at a time: every saga of the play exactly once, newest first,
however many it has; a token is this play's listing's and no other's."""

from __future__ import annotations

from typing import Any

from fountain_local.runtime import LocalAws
from fountain_local.saga_run import run_revision
from fountain_saga.saga.faults import FaultPlan
from tests.saga.plays import completed_play
from tests.unit.api_calls import Answer, call, event


def _sagas(play_id: str, **query: str) -> Answer:
    return call(event("GET", f"/plays/{play_id}/sagas", query={k: [v] for k, v in query.items()}))


def _play_with_sagas(local_aws: LocalAws, revisions: int) -> str:
    play_id = completed_play(local_aws)
    for _ in range(revisions):
        failed = run_revision(
            local_aws, play_id, "INT. B\n\nBOB\nBye.\n", fault=FaultPlan(step="CreateScript")
        )
        assert failed.status == "ROLLED_BACK"
    return play_id


def test_pages_give_every_saga_once_newest_first_and_end_with_no_token(local_aws: LocalAws) -> None:
    play_id = _play_with_sagas(local_aws, 4)  # sagas 1 (create) to 5

    seen: list[dict[str, Any]] = []
    pages = []
    token = None
    while True:
        page = _sagas(play_id, limit="2", **({"nextToken": token} if token else {}))
        assert page.status == 200, page.body
        pages.append(len(page.json()["sagas"]))
        seen += page.json()["sagas"]
        token = page.json()["nextToken"]
        if token is None:
            break
    assert pages == [2, 2, 1]
    assert [s["sagaId"] for s in seen] == [f"revise-{play_id}-{n}" for n in (5, 4, 3, 2)] + [
        f"create-{play_id}"
    ]
    assert [s["status"] for s in seen] == ["ROLLED_BACK"] * 4 + ["COMPLETED"]

    whole = _sagas(play_id).json()  # the default page holds all five
    assert whole["sagas"] == seen and whole["nextToken"] is None
    exact = _sagas(play_id, limit="5").json()
    assert len(exact["sagas"]) == 5 and exact["nextToken"] is None


def test_a_token_of_another_plays_sagas_is_refused(local_aws: LocalAws) -> None:
    first = _play_with_sagas(local_aws, 1)
    second = completed_play(local_aws)
    token = _sagas(first, limit="1").json()["nextToken"]
    assert token is not None
    refused = _sagas(second, nextToken=token)
    assert (refused.status, refused.code) == (400, "invalid_next_token")
    listed = call(event("GET", "/plays", query={"nextToken": [token]}))
    assert (listed.status, listed.code) == (400, "invalid_next_token")
    twice = call(event("GET", f"/plays/{first}/sagas", query={"limit": ["1", "2"]}))
    assert (twice.status, twice.code) == (400, "invalid_limit")
