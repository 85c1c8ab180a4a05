"""Revising and deleting plays through the HTTP API: PUT and DELETE /plays/{playId}, the play's
version and ETag, its sagas, and requests racing for one play. Rows are checked in the tables."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from bench.playgen import generate_play
from fountain_saga.play.fountain_import import parse_play
from fountain_saga.play.fountain_syntax import normalise
from fountain_saga.topology import DELETE_STEPS, REVISE_STEPS
from tests.e2e.conftest import ENTITY_KINDS, Deployment, HttpResponse

pytestmark = pytest.mark.slow

NO_ROWS = dict.fromkeys(ENTITY_KINDS, 0)
FIRST = "Title: First Draft\n\nINT. ROOM - DAY\n\nALICE\nWho is it?\n\nBOB\nMe.\n"
SECOND = (
    "Title: Second Draft\n\nINT. ROOM - NIGHT\n\nALICE\nStill you?\n\nBOB\nStill me.\n\n"
    "CUT TO:\n\nEXT. YARD - NIGHT\n\nCAROL\nAnd me.\n"
)
MISSING = "e" * 32


def _create(deployment: Deployment, text: str = FIRST) -> str:
    created = deployment.post_play(text)
    assert created.status == 202, created.text
    play_id: str = created.json()["playId"]
    assert deployment.wait(play_id)["status"] == "COMPLETED"
    return play_id


def _put(
    deployment: Deployment, play_id: str, text: str, headers: dict[str, str] | None = None
) -> HttpResponse:
    return deployment.request(
        "PUT",
        f"/plays/{play_id}",
        text.encode(),
        {"Content-Type": "text/plain; charset=utf-8", **(headers or {})},
    )


def _error(response: HttpResponse, status: int, code: str) -> str:
    assert response.status == status, response.text
    error = response.json()["error"]
    assert error["code"] == code, error
    message: str = error["message"]
    return message


def _rows(text: str) -> dict[str, int]:
    return {"script": 1, **parse_play(text).counts()}


def _text(deployment: Deployment, play_id: str) -> HttpResponse:
    return deployment.request("GET", f"/plays/{play_id}/fountain")


def _sagas(deployment: Deployment, play_id: str) -> list[tuple[str, str, int]]:
    listed = deployment.request("GET", f"/plays/{play_id}/sagas")
    assert listed.status == 200, listed.text
    assert listed.json()["playId"] == play_id
    return [(s["operation"], s["status"], s["version"]) for s in listed.json()["sagas"]]


def test_a_revision_makes_the_draft_the_next_version(deployment: Deployment) -> None:
    play_id = _create(deployment)
    view = deployment.request("GET", f"/plays/{play_id}")
    assert (view.header("ETag"), view.json()["version"]) == ('"1"', 1)
    assert _text(deployment, play_id).header("ETag") == '"1"'

    started = _put(deployment, play_id, SECOND, {"If-Match": '"1"'})

    assert started.status == 202, started.text
    body = started.json()
    assert set(body) == {"playId", "version", "saga", "executionArn", "links"}
    assert (body["playId"], body["version"]) == (play_id, 2)
    assert body["saga"] == {"operation": "revise", "status": "RUNNING"}
    assert body["executionArn"].endswith(f":revise-{play_id}-2")
    assert started.headers["Location"] == body["links"]["self"]
    play = deployment.wait(play_id)
    assert (play["status"], play["version"], play["title"]) == ("COMPLETED", 2, "Second Draft")
    assert (play["saga"]["operation"], play["saga"]["status"], play["saga"]["version"]) == (
        "revise",
        "COMPLETED",
        2,
    )
    assert [s["name"] for s in play["saga"]["steps"]] == list(REVISE_STEPS)
    assert {s["status"] for s in play["saga"]["steps"]} == {"SUCCEEDED"}
    assert play["counts"] == parse_play(SECOND).counts()
    assert deployment.request("GET", f"/plays/{play_id}").header("ETag") == '"2"'
    text = _text(deployment, play_id)
    assert (text.status, text.header("ETag"), text.text) == (200, '"2"', normalise(SECOND))
    # The first version's rows are gone; the second's and the head are all that is left.
    assert deployment.rows_left(play_id, version=1) == NO_ROWS
    assert deployment.rows_left(play_id, version=2) == _rows(SECOND)
    assert deployment.rows_left(play_id) == {**_rows(SECOND), "script": 2}
    assert _sagas(deployment, play_id) == [("revise", "COMPLETED", 2), ("create", "COMPLETED", 1)]
    listed = deployment.request("GET", "/plays?status=COMPLETED&limit=100").json()["plays"]
    assert {"status": "COMPLETED", "version": 2}.items() <= next(
        p for p in listed if p["playId"] == play_id
    ).items()

    stale = _put(deployment, play_id, FIRST, {"If-Match": '"1"'})

    assert "version 2, not 1" in _error(stale, 412, "precondition_failed")
    weak = _put(deployment, play_id, FIRST, {"If-Match": 'W/"2"'})
    assert weak.status == 202 and weak.json()["version"] == 3, weak.text
    assert deployment.wait(play_id)["version"] == 3
    assert _text(deployment, play_id).text == normalise(FIRST)


def test_a_failed_revision_leaves_the_play_at_its_version(deployment: Deployment) -> None:
    play_id = _create(deployment)

    started = _put(deployment, play_id, SECOND, {"If-Match": "*", "X-Fountain-Fail-At": "CreateDialogue"})

    assert started.status == 202, started.text
    play = deployment.wait(play_id)
    assert (play["saga"]["operation"], play["saga"]["status"]) == ("revise", "ROLLED_BACK")
    assert play["saga"]["failure"]["step"] == "CreateDialogue"
    assert (play["status"], play["version"], play["title"]) == ("COMPLETED", 1, "First Draft")
    assert play["counts"] == parse_play(FIRST).counts()
    text = _text(deployment, play_id)
    assert (text.header("ETag"), text.text) == ('"1"', normalise(FIRST))
    assert deployment.rows_left(play_id, version=2) == NO_ROWS  # the draft's rows were compensated
    assert deployment.rows_left(play_id, version=1) == _rows(FIRST)
    assert _sagas(deployment, play_id) == [("revise", "ROLLED_BACK", 2), ("create", "COMPLETED", 1)]
    # A rolled-back revision releases the play, but not its number: the 202 said 2, so the next
    # revision is 3, and "2" never names a text the failed client did not send.
    retried = _put(deployment, play_id, SECOND, {"If-Match": '"1"'})
    assert retried.status == 202 and retried.json()["version"] == 3, retried.text
    assert deployment.wait(play_id)["version"] == 3
    text = _text(deployment, play_id)
    assert (text.header("ETag"), text.text) == ('"3"', normalise(SECOND))
    assert deployment.rows_left(play_id) == {**_rows(SECOND), "script": 2}  # versions 1 to 4, and the head


def test_a_clean_up_step_that_fails_once_is_retried_and_the_revision_completes(
    deployment: Deployment,
) -> None:
    play_id = _create(deployment)

    started = _put(
        deployment,
        play_id,
        SECOND,
        {"X-Fountain-Fail-At": "CleanUpDialogue", "X-Fountain-Fail-Attempts": "1"},
    )

    assert started.status == 202, started.text
    play = deployment.wait(play_id)
    assert (play["saga"]["status"], play["version"]) == ("COMPLETED", 2), play["saga"]
    assert "cleanupFailure" not in play["saga"]
    assert deployment.rows_left(play_id, version=1) == NO_ROWS


def test_a_change_while_a_revision_runs_is_409_and_readers_get_one_whole_version(
    deployment: Deployment,
) -> None:
    old, new = generate_play(600, seed=1), generate_play(600, seed=2)
    play_id = _create(deployment, old)
    assert _put(deployment, play_id, new, {"If-Match": '"1"'}).status == 202

    assert "revise saga RUNNING" in _error(_put(deployment, play_id, FIRST), 409, "saga_in_progress")
    _error(deployment.request("DELETE", f"/plays/{play_id}"), 409, "saga_in_progress")
    seen = set()
    while deployment.request("GET", f"/plays/{play_id}").json()["saga"]["status"] == "RUNNING":
        text = _text(deployment, play_id)
        assert text.status == 200, text.text
        # The text is the version its ETag names, the old one until the pivot: never a mix.
        version = text.header("ETag") or ""
        assert text.text == normalise({'"1"': old, '"2"': new}[version])
        seen.add(version)

    assert '"1"' in seen
    assert deployment.wait(play_id)["version"] == 2
    assert _text(deployment, play_id).text == normalise(new)


def test_a_deleted_play_leaves_a_tombstone_and_deleting_it_again_is_the_same_deletion(
    deployment: Deployment,
) -> None:
    play_id = _create(deployment)

    deleting = deployment.request("DELETE", f"/plays/{play_id}")

    assert deleting.status == 202, deleting.text
    assert set(deleting.json()) == {"playId", "status", "executionArn"}
    assert (deleting.json()["playId"], deleting.json()["status"]) == (play_id, "DELETING")
    assert deleting.headers["Location"].endswith(f"/plays/{play_id}")
    # From the moment the deletion is accepted, the text is gone, whatever step it is at.
    _error(_text(deployment, play_id), 410, "play_deleted")
    play = deployment.wait(play_id)
    assert (play["status"], play["version"]) == ("DELETED", 1)
    assert (play["saga"]["operation"], play["saga"]["status"]) == ("delete", "COMPLETED")
    assert [s["name"] for s in play["saga"]["steps"]] == list(DELETE_STEPS)
    assert {s["status"] for s in play["saga"]["steps"]} == {"SUCCEEDED"}
    assert play["counts"] == dict.fromkeys(("acts", "scenes", "characters", "dialogue", "transitions"), 0)
    assert "DELETED" in _error(_text(deployment, play_id), 410, "play_deleted")
    assert deployment.rows_left(play_id) == NO_ROWS  # every version, and the head
    assert _sagas(deployment, play_id) == [("delete", "COMPLETED", 1), ("create", "COMPLETED", 1)]
    listed = deployment.request("GET", "/plays?status=DELETED&limit=100").json()["plays"]
    assert play_id in {p["playId"] for p in listed} and {p["status"] for p in listed} == {"DELETED"}

    again = deployment.request("DELETE", f"/plays/{play_id}")

    assert again.status == 202, again.text
    assert again.json() == {**deleting.json(), "status": "DELETED"}
    assert "POST /plays" in _error(_put(deployment, play_id, SECOND), 410, "play_deleted")
    assert _sagas(deployment, play_id) == [("delete", "COMPLETED", 1), ("create", "COMPLETED", 1)]


@pytest.mark.parametrize(
    ("method", "suffix"), [("PUT", ""), ("DELETE", ""), ("GET", "/sagas"), ("GET", ""), ("GET", "/fountain")]
)
def test_an_unknown_play_is_404(method: str, suffix: str, deployment: Deployment) -> None:
    body, headers = (FIRST.encode(), {"Content-Type": "text/plain"}) if method == "PUT" else (None, {})
    response = deployment.request(method, f"/plays/{MISSING}{suffix}", body, headers)
    assert MISSING in _error(response, 404, "play_not_found")


def _at_once(calls: list[Callable[[], HttpResponse]]) -> list[HttpResponse]:
    """Each call in a thread of its own, all let go together."""
    barrier = threading.Barrier(len(calls))

    def run(call: Callable[[], HttpResponse]) -> HttpResponse:
        barrier.wait()
        return call()

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(run, calls))


def _play_state(deployment: Deployment, play_id: str) -> tuple[Any, ...]:
    view = deployment.request("GET", f"/plays/{play_id}")
    text = _text(deployment, play_id)
    return view.json(), view.header("ETag"), text.status, text.text, deployment.rows_left(play_id)


def test_ten_revisions_based_on_one_version_start_one_saga(deployment: Deployment) -> None:
    bystander = _create(deployment, SECOND)
    before = _play_state(deployment, bystander)
    play_id = _create(deployment)
    drafts = [FIRST.replace("Me.", f"Me, number {n}.") for n in range(10)]

    def revise(draft: str) -> Callable[[], HttpResponse]:
        return lambda: _put(deployment, play_id, draft, {"If-Match": '"1"'})

    responses = _at_once([revise(draft) for draft in drafts])

    statuses = sorted(r.status for r in responses)
    assert statuses.count(202) == 1 and set(statuses) <= {202, 409, 412}, [r.text for r in responses]
    for response in responses:
        if response.status != 202:
            _error(
                response,
                response.status,
                {409: "saga_in_progress", 412: "precondition_failed"}[response.status],
            )
    (winner,) = [draft for draft, r in zip(drafts, responses, strict=True) if r.status == 202]
    play = deployment.wait(play_id)
    assert (play["status"], play["version"], play["saga"]["status"]) == ("COMPLETED", 2, "COMPLETED")
    assert _text(deployment, play_id).text == normalise(winner)
    assert _sagas(deployment, play_id) == [("revise", "COMPLETED", 2), ("create", "COMPLETED", 1)]
    assert deployment.rows_left(play_id) == {**_rows(winner), "script": 2}
    assert _play_state(deployment, bystander) == before


def test_a_revision_sent_again_and_again_with_one_idempotency_key_is_one_revision(
    deployment: Deployment,
) -> None:
    play_id = _create(deployment)
    key = f"revise-{uuid.uuid4()}"

    def revise() -> HttpResponse:
        return _put(deployment, play_id, SECOND, {"Idempotency-Key": key})

    responses = _at_once([revise for _ in range(5)])

    assert {r.status for r in responses} == {202}, [r.text for r in responses]
    assert len({r.json()["executionArn"] for r in responses}) == 1
    assert deployment.wait(play_id)["version"] == 2
    assert revise().json()["saga"] == {"operation": "revise", "status": "COMPLETED"}  # a retry, later
    assert _sagas(deployment, play_id) == [("revise", "COMPLETED", 2), ("create", "COMPLETED", 1)]
    _error(_put(deployment, play_id, FIRST, {"Idempotency-Key": key}), 409, "idempotency_conflict")


def test_deletions_asked_at_once_are_one_deletion(deployment: Deployment) -> None:
    play_id = _create(deployment)

    def delete() -> HttpResponse:
        return deployment.request("DELETE", f"/plays/{play_id}")

    responses = _at_once([delete for _ in range(5)])

    assert {r.status for r in responses} == {202}, [r.text for r in responses]
    assert len({r.json()["executionArn"] for r in responses}) == 1
    assert deployment.wait(play_id)["status"] == "DELETED"
    assert _sagas(deployment, play_id) == [("delete", "COMPLETED", 1), ("create", "COMPLETED", 1)]


def test_a_revision_racing_a_deletion_one_wins_whole(deployment: Deployment) -> None:
    bystander = _create(deployment, SECOND)
    before = _play_state(deployment, bystander)
    # The PUT reads its draft before it looks at the play, so an instant DELETE tends to win;
    # the later ones give the PUT (a second or so of parsing and staging under load) the lead.
    delays = (0.0, 0.3, 0.6, 1.5)
    play_ids = [_create(deployment) for _ in delays]

    def delete_after(play_id: str, delay: float) -> HttpResponse:
        time.sleep(delay)
        return deployment.request("DELETE", f"/plays/{play_id}")

    pairs = _at_once(
        [
            call
            for play_id, delay in zip(play_ids, delays, strict=True)
            for call in (
                lambda p=play_id: _put(deployment, p, SECOND, {"If-Match": '"1"'}),
                lambda p=play_id, d=delay: delete_after(p, d),
            )
        ]
    )

    print("winners:", ["DELETE" if delete.status == 202 else "PUT" for delete in pairs[1::2]])
    for play_id, put, delete in zip(play_ids, pairs[::2], pairs[1::2], strict=True):
        assert sorted([put.status, delete.status]).count(202) == 1, (put.text, delete.text)
        play = deployment.wait(play_id)
        if delete.status == 202:
            assert put.status in (409, 410), put.text
            assert (play["status"], play["version"]) == ("DELETED", 1)
            _error(_text(deployment, play_id), 410, "play_deleted")
            assert deployment.rows_left(play_id) == NO_ROWS
            assert _sagas(deployment, play_id) == [("delete", "COMPLETED", 1), ("create", "COMPLETED", 1)]
        else:
            _error(delete, 409, "saga_in_progress")
            assert (play["status"], play["version"], play["saga"]["status"]) == ("COMPLETED", 2, "COMPLETED")
            assert _text(deployment, play_id).text == normalise(SECOND)
            assert deployment.rows_left(play_id) == {**_rows(SECOND), "script": 2}
            assert _sagas(deployment, play_id) == [("revise", "COMPLETED", 2), ("create", "COMPLETED", 1)]
    assert _play_state(deployment, bystander) == before
