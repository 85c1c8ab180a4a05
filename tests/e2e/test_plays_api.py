"""The plays API end to end: a real HTTP server, the real saga, rows checked in the tables."""

from __future__ import annotations

import hashlib
import json
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from fountain_saga.play.fountain_import import PlayRejected, parse_play
from fountain_saga.play.fountain_syntax import normalise
from fountain_saga.topology import FORWARD_STEPS
from tests.conftest import CORPUS, example_text
from tests.e2e.conftest import Deployment

NO_ROWS = dict.fromkeys(("script", "acts", "scenes", "characters", "dialogue", "transitions"), 0)


def _is_play(path: Path) -> bool:
    try:
        parse_play(path.read_text(encoding="utf-8"))
    except PlayRejected:
        return False
    return True


# The whole plays of the corpus; every document's exact round trip through the stored rows is a
# unit test (tests/unit/test_corpus.py), so here the HTTP path is tried with the long ones.
CORPUS_PLAYS = [path for path in sorted(CORPUS.glob("play-*.fountain")) if _is_play(path)]


def test_the_example_play_end_to_end(deployment: Deployment) -> None:
    text = example_text()
    created = deployment.request(
        "POST", "/plays", text.encode(), {"Content-Type": "text/plain; charset=utf-8"}
    )
    assert created.status == 202, created.text
    body = created.json()
    assert body["status"] == "RUNNING"
    # The path the API was called by: /plays/... locally, /{stage}/plays/... on the execute-api URL.
    where = urlsplit(deployment.api_url).path.rstrip("/") + f"/plays/{body['playId']}"
    assert created.headers["Location"] == where == body["links"]["self"]
    assert set(body) == {"playId", "status", "links"}  # no execution ARN: no AWS resource names

    play = deployment.wait(body["playId"])

    assert play["status"] == play["saga"]["status"] == "COMPLETED"
    assert play["title"] == "The Last Keeper"
    assert play["counts"] == {"acts": 2, "scenes": 4, "characters": 2, "dialogue": 17, "transitions": 2}
    assert [s["name"] for s in play["saga"]["steps"]] == list(FORWARD_STEPS)
    assert {s["status"] for s in play["saga"]["steps"]} == {"SUCCEEDED"}
    assert play["saga"]["failure"] is None
    assert play["version"] == 1 and play["saga"]["operation"] == "create"
    # The counts the API reads from the ledger are the rows in the tables...
    written = deployment.rows_left(body["playId"], version=1)
    assert written == {"script": 1, **play["counts"]}
    # ...and beside them, only the play's head (in the script table), which readers start from.
    assert deployment.rows_left(body["playId"]) == {**written, "script": 2}


@pytest.mark.parametrize("path", CORPUS_PLAYS, ids=lambda p: p.stem)
def test_every_corpus_play_is_given_back_byte_for_byte(path: Path, deployment: Deployment) -> None:
    text = path.read_text(encoding="utf-8")
    created = deployment.post_play(text)
    assert created.status == 202, created.text
    play_id = created.json()["playId"]
    play = deployment.wait(play_id)
    assert play["status"] == "COMPLETED"
    assert play["counts"] == parse_play(text).counts()

    given_back = deployment.request("GET", f"/plays/{play_id}/fountain")

    assert given_back.status == 200
    assert given_back.headers["Content-Type"].startswith("text/plain")
    assert given_back.text == normalise(text)


@pytest.mark.parametrize("step", FORWARD_STEPS)
def test_a_fault_at_each_step_rolls_back_and_leaves_no_row(step: str, deployment: Deployment) -> None:
    created = deployment.post_play(example_text(), headers={"X-Fountain-Fail-At": step})
    assert created.status == 202, created.text
    play_id = created.json()["playId"]

    play = deployment.wait(play_id)

    assert play["status"] == "ROLLED_BACK"
    assert play["saga"]["failure"]["step"] == step
    assert play["saga"]["failure"]["error"] == "InjectedFault"
    assert deployment.rows_left(play_id) == NO_ROWS  # through the AWS endpoint, not the API
    assert play["counts"] == {k: 0 for k in ("acts", "scenes", "characters", "dialogue", "transitions")}
    assert deployment.request("GET", f"/plays/{play_id}/fountain").status == 409
    # What failed and why, in words meant for the client: no stack trace, file or table name.
    body = deployment.request("GET", f"/plays/{play_id}").text
    assert "failed on purpose" in play["saga"]["failure"]["cause"]
    for leak in ("stackTrace", "Traceback", ".py", "/var/task", "fountain-"):
        assert leak not in body, leak


def test_idempotency_key_returns_the_same_play_and_starts_one_saga(deployment: Deployment) -> None:
    key = f"e2e-{uuid.uuid4()}"
    text = "INT. ROOM - DAY\n\nBOB\nHello.\n"
    first = deployment.post_play(text, headers={"Idempotency-Key": key})
    second = deployment.post_play(text, headers={"Idempotency-Key": key})
    assert first.status == second.status == 202
    assert first.json()["playId"] == second.json()["playId"]
    play_id = first.json()["playId"]
    deployment.wait(play_id)

    sfn = deployment.aws_client("stepfunctions")
    machine = sfn.describe_execution(executionArn=deployment.execution_arn(play_id))["stateMachineArn"]
    names = [e["name"] for e in sfn.list_executions(stateMachineArn=machine, maxResults=1000)["executions"]]
    assert names.count(f"create-{play_id}") == 1

    different = deployment.post_play(text + "\nMORE\nAnother line.\n", headers={"Idempotency-Key": key})
    assert different.status == 409
    assert different.json()["error"]["code"] == "idempotency_conflict"
    assert play_id not in different.text  # a conflict names no play
    # Nobody can compute the play id from the key (it used to be sha256 of it).
    assert play_id != hashlib.sha256(f"idempotency-key:{key}".encode()).hexdigest()[:32]


def test_listing_is_newest_first_paginated_and_filtered(deployment: Deployment) -> None:
    ids = []
    for _ in range(3):
        created = deployment.post_play("INT. ROOM - DAY\n\nALICE\nWho is it?\n\nBOB\nMe.\n")
        ids.append(created.json()["playId"])
    for play_id in ids:
        deployment.wait(play_id)

    first = deployment.request("GET", "/plays?limit=2")
    assert first.status == 200
    page = first.json()
    assert len(page["plays"]) == 2 and page["nextToken"]
    second = deployment.request("GET", f"/plays?limit=2&nextToken={page['nextToken']}").json()
    listed = [p["playId"] for p in page["plays"] + second["plays"]]
    assert len(set(listed)) == len(listed) == 4
    assert [p["playId"] for p in page["plays"]] == ids[::-1][:2]
    stamps = [p["createdAt"] for p in page["plays"] + second["plays"]]
    assert stamps == sorted(stamps, reverse=True)

    rolled_back = deployment.request("GET", "/plays?status=ROLLED_BACK&limit=100").json()["plays"]
    assert rolled_back and {p["status"] for p in rolled_back} == {"ROLLED_BACK"}


def test_the_text_is_not_served_before_the_play_is_complete(deployment: Deployment) -> None:
    created = deployment.post_play(
        "INT. ROOM - DAY\n\nBOB\nHello.\n", headers={"X-Fountain-Fail-At": "PublishPlay"}
    )
    play_id = created.json()["playId"]
    assert deployment.wait(play_id)["status"] == "ROLLED_BACK"
    response = deployment.request("GET", f"/plays/{play_id}/fountain")
    assert response.status == 409
    assert "ROLLED_BACK" in json.loads(response.body)["error"]["message"]
