"""The plays API end to end: a real HTTP server, the real saga, rows checked in the tables."""

from __future__ import annotations

import dataclasses
import json
import uuid
from pathlib import Path

import pytest

from fountain_saga.play.document import PlayDocument
from fountain_saga.play.fountain_import import PlayRejected, parse_play
from fountain_saga.topology import FORWARD_STEPS
from tests.conftest import all_samples, sample_text
from tests.e2e.conftest import Deployment

NO_ROWS = dict.fromkeys(("script", "acts", "scenes", "characters", "dialogue", "transitions"), 0)


def _with_speech(path: Path) -> bool:
    try:
        return bool(parse_play(path.read_text(encoding="utf-8")).dialogue)
    except PlayRejected:
        return False


SPEAKING_SAMPLES = [p for p in all_samples() if _with_speech(p)]


def _structure(play: PlayDocument) -> dict[str, object]:
    return {
        "acts": [a.title for a in play.acts],
        "scenes": [(s.act_seq, s.heading, s.number) for s in play.scenes],
        "characters": [c.name for c in play.characters],
        "speeches": [
            (d.scene_seq, d.character, d.extensions, [dataclasses.astuple(ln) for ln in d.lines], d.dual)
            for d in play.dialogue
        ],
        "transitions": [(t.scene_seq, t.text) for t in play.transitions],
    }


def test_a_shared_sample_play_end_to_end(deployment: Deployment) -> None:
    text = sample_text("screenplain/The-Last-Birthday-Card.fountain")
    created = deployment.request(
        "POST", "/plays", text.encode(), {"Content-Type": "text/plain; charset=utf-8"}
    )
    assert created.status == 202, created.text
    body = created.json()
    assert body["status"] == "RUNNING"
    assert created.headers["Location"] == f"/plays/{body['playId']}" == body["links"]["self"]
    assert body["executionArn"].endswith(body["playId"])

    play = deployment.wait(body["playId"])

    assert play["status"] == play["saga"]["status"] == "COMPLETED"
    assert play["title"] == "THE LAST BIRTHDAY CARD"
    assert play["counts"] == {"acts": 3, "scenes": 49, "characters": 12, "dialogue": 134, "transitions": 25}
    assert [s["name"] for s in play["saga"]["steps"]] == list(FORWARD_STEPS)
    assert {s["status"] for s in play["saga"]["steps"]} == {"SUCCEEDED"}
    assert play["saga"]["failure"] is None
    assert deployment.rows_left(body["playId"]) == {"script": 1, **play["counts"]}


@pytest.mark.parametrize("path", SPEAKING_SAMPLES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_the_rebuilt_fountain_parses_to_the_same_play(path: Path, deployment: Deployment) -> None:
    text = path.read_text(encoding="utf-8")
    created = deployment.post_play(text)
    assert created.status == 202, created.text
    play_id = created.json()["playId"]
    assert deployment.wait(play_id)["status"] == "COMPLETED"

    rebuilt = deployment.request("GET", f"/plays/{play_id}/fountain")

    assert rebuilt.status == 200
    assert rebuilt.headers["Content-Type"].startswith("text/plain")
    assert _structure(parse_play(rebuilt.text)) == _structure(parse_play(text))


def test_speaking_samples_cover_the_full_scripts() -> None:
    names = {p.name for p in SPEAKING_SAMPLES}
    assert {"Big-Fish.fountain", "The-Last-Birthday-Card.fountain", "Brick-and-Steel.fountain"} <= names
    assert len(SPEAKING_SAMPLES) >= 12


@pytest.mark.parametrize("step", FORWARD_STEPS)
def test_a_fault_at_each_step_rolls_back_and_leaves_no_row(step: str, deployment: Deployment) -> None:
    created = deployment.post_play(
        sample_text("screenplain/Brick-and-Steel.fountain"), headers={"X-Fountain-Fail-At": step}
    )
    assert created.status == 202, created.text
    play_id = created.json()["playId"]

    play = deployment.wait(play_id)

    assert play["status"] == "ROLLED_BACK"
    assert play["saga"]["failure"]["step"] == step
    assert play["saga"]["failure"]["error"] == "InjectedFault"
    assert deployment.rows_left(play_id) == NO_ROWS  # through the AWS endpoint, not the API
    assert play["counts"] == {k: 0 for k in ("acts", "scenes", "characters", "dialogue", "transitions")}
    assert deployment.request("GET", f"/plays/{play_id}/fountain").status == 409


def test_idempotency_key_returns_the_same_play_and_starts_one_saga(deployment: Deployment) -> None:
    key = f"e2e-{uuid.uuid4()}"
    text = sample_text("screenplain/simple.fountain")
    first = deployment.post_play(text, headers={"Idempotency-Key": key})
    second = deployment.post_play(text, headers={"Idempotency-Key": key})
    assert first.status == second.status == 202
    assert first.json()["playId"] == second.json()["playId"]
    assert first.json()["executionArn"] == second.json()["executionArn"]
    play_id = first.json()["playId"]
    deployment.wait(play_id)

    sfn = deployment.aws_client("stepfunctions")
    machine = sfn.describe_execution(executionArn=first.json()["executionArn"])["stateMachineArn"]
    names = [e["name"] for e in sfn.list_executions(stateMachineArn=machine, maxResults=1000)["executions"]]
    assert names.count(f"create-{play_id}") == 1

    different = deployment.post_play(text + "\nMORE\nAnother line.\n", headers={"Idempotency-Key": key})
    assert different.status == 409
    assert different.json()["error"]["code"] == "idempotency_conflict"


def test_listing_is_newest_first_paginated_and_filtered(deployment: Deployment) -> None:
    ids = []
    for _ in range(3):
        created = deployment.post_play(sample_text("screenplain/dialogue.fountain"))
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
        sample_text("screenplain/simple.fountain"), headers={"X-Fountain-Fail-At": "PublishPlay"}
    )
    play_id = created.json()["playId"]
    assert deployment.wait(play_id)["status"] == "ROLLED_BACK"
    response = deployment.request("GET", f"/plays/{play_id}/fountain")
    assert response.status == 409
    assert "ROLLED_BACK" in json.loads(response.body)["error"]["message"]
