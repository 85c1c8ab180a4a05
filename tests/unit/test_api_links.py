"""Links and Location carry the path the client called the API by: the stage on the execute-api
URL, a custom domain's base path, and nothing on the local server."""

from __future__ import annotations

from typing import Any

import pytest

from fountain_saga.api.responses import base_path
from fountain_saga.topology import LOCAL_STAGE
from tests.unit.api_calls import call, event, post_play

PLAY_PATH = "/plays/" + "a" * 32


@pytest.mark.parametrize(
    ("stage", "called_path", "base"),
    [
        ("dev", f"/dev{PLAY_PATH}", "/dev"),  # https://{api}.execute-api.{region}.amazonaws.com/dev/...
        ("prod", f"/prod{PLAY_PATH}", "/prod"),
        ("prod", PLAY_PATH, ""),  # a custom domain mapped at its root
        ("prod", f"/v1{PLAY_PATH}", "/v1"),  # a custom domain's base path
        ("prod", f"/v1/{PLAY_PATH}", "/v1"),
        (LOCAL_STAGE, f"/{LOCAL_STAGE}{PLAY_PATH}", ""),  # the local server serves at its root
        ("dev", "/elsewhere", ""),  # a path API Gateway would not send: no prefix is guessed
        ("dev", "", ""),
    ],
)
def test_the_prefix_is_what_the_client_called_before_the_route(
    stage: str, called_path: str, base: str
) -> None:
    assert base_path(event("GET", PLAY_PATH, stage=stage, called_path=called_path)) == base


def test_a_play_started_through_a_stage_links_to_itself_through_that_stage(local_aws: Any) -> None:
    started = post_play(stage="dev")
    play_id = started.json()["playId"]
    assert started.headers["Location"] == f"/dev/plays/{play_id}" == started.json()["links"]["self"]

    play_links = {
        "self": f"/dev/plays/{play_id}",
        "fountain": f"/dev/plays/{play_id}/fountain",
        "sagas": f"/dev/plays/{play_id}/sagas",
    }
    view = call(event("GET", f"/plays/{play_id}", stage="dev")).json()
    assert view["links"] == play_links
    listed = call(event("GET", "/plays", stage="dev", query={"limit": ["1"]})).json()["plays"]
    assert listed[0]["links"]["self"] == f"/dev/plays/{play_id}"
    local_aws.wait_for_executions()

    revising = call(
        event("PUT", f"/plays/{play_id}", stage="dev", headers={"Content-Type": "text/plain"}, body=b"INT. B")
    )
    assert revising.status == 202, revising.body
    assert revising.headers["Location"] == play_links["self"] and revising.json()["links"] == play_links
    local_aws.wait_for_executions()
    deleting = call(event("DELETE", f"/plays/{play_id}", stage="dev"))
    assert deleting.status == 202, deleting.body
    assert deleting.headers["Location"] == play_links["self"]
    local_aws.wait_for_executions()


def test_a_play_started_on_the_local_server_links_without_a_stage(local_aws: Any) -> None:
    started = post_play(stage=LOCAL_STAGE)
    play_id = started.json()["playId"]
    assert started.headers["Location"] == f"/plays/{play_id}" == started.json()["links"]["self"]
    view = call(event("GET", f"/plays/{play_id}", stage=LOCAL_STAGE)).json()
    assert view["links"]["fountain"] == f"/plays/{play_id}/fountain"
