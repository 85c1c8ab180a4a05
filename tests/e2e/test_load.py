"""Load through the API: 50 sagas at once, a seeded third of them failing at random steps.
Every play ends whole or without a row; no rollback touches another play.

The sagas are started and followed at a pace under the stage's throttle, as a well-behaved client
of the deployed API would, so the test passes against it as it does locally.
"""

from __future__ import annotations

import random
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import pytest

from fountain_local.server import TokenBucket
from fountain_saga.play.fountain_import import parse_play
from fountain_saga.topology import FORWARD_STEPS, THROTTLE_RATE_PER_SECOND
from tests.conftest import example_text
from tests.e2e.conftest import Deployment

pytestmark = pytest.mark.slow

SEED = 20261127
SAGAS = 50
PLAYS = [
    example_text(),
    "INT. ROOM - DAY\n\nBOB\nHello.\n",
    "INT. KITCHEN - NIGHT\n\nALICE\nWho's there?\n\nBOB (O.S.)\nMe.\n\nALICE\n(beat)\nWhich me?\n",
    "Title: Small Hours\n\n# ACT ONE\n\nEXT. PIER - DAWN\n\nJOSÉ\nLa marea.\n\nCUT TO:\n\n"
    "INT. BAR - DAY\n\nМАША\nДа.\n",
]
NO_ROWS = dict.fromkeys(("script", "acts", "scenes", "characters", "dialogue", "transitions"), 0)
# Four fifths of the stage's rate, with a burst of one second's worth: the stage's bucket (twice
# that) is never emptied by this test alone, and another client of the stage keeps some room.
PACE_PER_SECOND = THROTTLE_RATE_PER_SECOND * 4 // 5


def test_fifty_concurrent_sagas_end_whole_or_without_a_row(deployment: Deployment) -> None:
    # Every request of the fifty threads, each poll of each saga included, takes one token.
    paced = replace(deployment, pace=TokenBucket(PACE_PER_SECOND, PACE_PER_SECOND))
    rng = random.Random(SEED)
    plan = []
    for index in range(SAGAS):
        text = PLAYS[index % len(PLAYS)]
        fail_at = rng.choice(FORWARD_STEPS) if rng.random() < 1 / 3 else None
        plan.append((text, fail_at))
    assert 10 <= sum(1 for _, f in plan if f) <= 25  # the seed gives about a third

    def start(item: tuple[str, str | None]) -> str:
        text, fail_at = item
        response = paced.post_play(text, headers={"X-Fountain-Fail-At": fail_at} if fail_at else None)
        assert response.status == 202, response.text
        play_id: str = response.json()["playId"]
        return play_id

    with ThreadPoolExecutor(max_workers=SAGAS) as pool:
        play_ids = list(pool.map(start, plan))
        outcomes = list(pool.map(lambda play_id: paced.wait(play_id, timeout=240), play_ids))

    for (text, fail_at), play_id, play in zip(plan, play_ids, outcomes, strict=True):
        if fail_at is None:
            assert play["status"] == "COMPLETED", (play_id, play["saga"])
            assert deployment.rows_left(play_id, version=1) == {"script": 1, **parse_play(text).counts()}, (
                play_id
            )
        else:
            assert play["status"] == "ROLLED_BACK", (play_id, play["saga"])
            assert play["saga"]["failure"]["step"] == fail_at
            assert deployment.rows_left(play_id) == NO_ROWS, play_id


def test_ten_concurrent_requests_with_one_idempotency_key_make_one_play(deployment: Deployment) -> None:
    key = f"load-{uuid.uuid4()}"
    text = "INT. ROOM - DAY\n\nALICE\nWho is it?\n\nBOB\nMe.\n"

    with ThreadPoolExecutor(max_workers=10) as pool:
        responses = list(
            pool.map(lambda _: deployment.post_play(text, headers={"Idempotency-Key": key}), range(10))
        )

    assert {r.status for r in responses} == {202}
    assert len({r.json()["playId"] for r in responses}) == 1
    play_id = responses[0].json()["playId"]
    assert deployment.wait(play_id)["status"] == "COMPLETED"
    sfn = deployment.aws_client("stepfunctions")
    machine = sfn.describe_execution(executionArn=deployment.execution_arn(play_id))["stateMachineArn"]
    executions = sfn.list_executions(stateMachineArn=machine, maxResults=1000)["executions"]
    assert [e["name"] for e in executions].count(f"create-{play_id}") == 1
    assert deployment.rows_left(play_id, version=1)["dialogue"] == 2
