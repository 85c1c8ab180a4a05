"""What the local server keeps across a stop or a crash, and what it does with a saga cut short.

Each test runs its own `fountain-saga serve` processes on a data directory of its own (the
session's shared server is left alone), and stops or kills them by process id.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from bench.playgen import generate_play
from fountain_saga.saga.intake import prepare_play
from tests.e2e.conftest import ENTITY_KINDS, Deployment, local_server

pytestmark = pytest.mark.slow

PLAY = (
    "Title: Kept\n\nINT. ARCHIVE - NIGHT\n\nKEEPER\nNothing here is ever lost.\n\n"
    "CUT TO:\n\nEXT. YARD - DAY\n\nKEEPER\nAlmost nothing.\n"
)


def test_a_play_survives_a_restart_and_an_in_memory_one_does_not(tmp_path: Path) -> None:
    kept_dir, log = tmp_path / "kept", tmp_path / "serve.log"
    with local_server(kept_dir, log) as first:
        kept = first.post_play(PLAY)
        assert kept.status == 202, kept.text
        play_id = kept.json()["playId"]
        assert first.wait(play_id)["status"] == "COMPLETED"
    with local_server(tmp_path / "throwaway", tmp_path / "memory.log", "--in-memory") as memory:
        lost = memory.post_play(PLAY)
        assert memory.wait(lost.json()["playId"])["status"] == "COMPLETED"
    started = time.monotonic()
    with local_server(kept_dir, log) as second:
        restart_seconds = time.monotonic() - started
        view = second.request("GET", f"/plays/{play_id}")
        assert view.status == 200, view.text
        assert view.json()["status"] == "COMPLETED"
        text = second.request("GET", f"/plays/{play_id}/fountain")
        assert text.status == 200
        assert text.text == PLAY
        assert second.rows_left(play_id, version=1) == {
            "script": 1,
            "acts": 1,
            "scenes": 2,
            "characters": 1,
            "dialogue": 2,
            "transitions": 1,
        }
        listing = second.request("GET", "/plays").json()["plays"]
        assert [p["playId"] for p in listing] == [play_id]  # and no sign of the in-memory server's play
    assert not (tmp_path / "throwaway").exists()  # --in-memory wrote nothing to disk
    print(f"restart to first answer: {restart_seconds:.1f} s")
    with local_server(tmp_path / "throwaway", tmp_path / "memory.log", "--in-memory") as memory:
        assert memory.request("GET", f"/plays/{lost.json()['playId']}").status == 404


def test_a_server_killed_mid_saga_finishes_it_on_the_next_start(tmp_path: Path) -> None:
    """SIGKILL while a 4,000-speech play is being written; the next start on the same data dir
    finishes that saga: rolled back with no row left, or completed with every row."""
    data_dir, log = tmp_path / "data", tmp_path / "serve.log"
    text = generate_play(4_000)
    with local_server(data_dir, log) as first:
        created = first.post_play(text)
        assert created.status == 202, created.text
        play_id = created.json()["playId"]
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # kill once a step has written, before the saga ends
            play = first.request("GET", f"/plays/{play_id}").json()
            done = [s["name"] for s in play["saga"]["steps"] if s["status"] == "SUCCEEDED"]
            if "CreateScript" in done:
                break
            time.sleep(0.02)
        assert play["status"] == "RUNNING", play
        assert first.process is not None
        first.process.kill()
        first.process.wait()
    killed_during = [s["name"] for s in play["saga"]["steps"] if s["status"] == "RUNNING"]

    started = time.monotonic()
    with local_server(data_dir, log) as second:
        ended = second.wait(play_id, timeout=120)
        recovery_seconds = time.monotonic() - started
        rows = second.rows_left(play_id)
        written = second.rows_left(play_id, version=1)
    assert f"recovering play {play_id}" in log.read_text()
    if ended["status"] == "COMPLETED":
        assert written == {"script": 1, **prepare_play(text).document.counts()}
    else:
        assert ended["status"] == "ROLLED_BACK", ended
        assert rows == dict.fromkeys(ENTITY_KINDS, 0)
    print(f"killed during {killed_during}; {ended['status']} {recovery_seconds:.1f} s after the restart")


def test_the_local_aws_endpoint_refuses_a_table_name_dynamodb_refuses(deployment: Deployment) -> None:
    if deployment.aws_endpoint is None:
        pytest.skip("creates a table: only against a local endpoint")
    from botocore.exceptions import ClientError

    ddb = deployment.aws_client("dynamodb")
    with pytest.raises(ClientError) as refused:
        ddb.create_table(
            TableName="ab",
            KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
    assert refused.value.response["Error"]["Code"] == "ValidationException"
    assert "at least 3 characters" in refused.value.response["Error"]["Message"]
