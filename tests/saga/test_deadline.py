"""A step the state machine gave up on writes nothing after its compensation ran.

DynamoDB is made slow to take the rows of one kind, so that kind's step cannot write them all
within its 2 s state timeout. Without a deadline in the handler, the state times out, the
compensations delete the play's rows, and the step's thread goes on writing: rows stay behind a
ROLLED_BACK saga. With it, the step stops before a batch that could outlive its deadline, and
once every handler has returned no row of the play is left.

Every kind written in more than one batch is tried: acts, scenes, characters, dialogue,
transitions. Not the script, one row, nor PublishPlay, one update: a single write, checked
against the deadline before it starts, leaves no further batch to land after the compensation,
so the race cannot happen there (the last test checks that each still stops when out of time).
"""

from __future__ import annotations

import string
import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from fountain_local.lambda_runtime import INVOCATIONS, LocalLambdaContext, resolve_handler
from fountain_local.runtime import LocalAws
from fountain_saga import topology
from fountain_saga.entities.batch_store import dynamodb_client
from fountain_saga.entities.deadline import StepOutOfTime
from fountain_saga.entities.heads import read_head
from fountain_saga.entities.models import ENTITY_MODELS
from fountain_saga.entities.reader import count_rows
from fountain_saga.play.fountain_import import parse_play
from fountain_saga.saga import ledger
from fountain_saga.saga.claim_check import stage_play
from fountain_saga.saga.intake import PlayRequest, start_play

pytestmark = pytest.mark.slow

NO_ROWS = dict.fromkeys(("script", "acts", "scenes", "characters", "dialogue", "transitions"), 0)
ROWS = 250  # 10 batches: at 0.25 s each, 2.5 s of writing for a step given 2 s
PUT_BATCH_SECONDS = 0.25
# Its handler's deadline is 80% of it, 1.6 s: room for the first batches even on a busy machine
# (with 1 s, a handler that took 0.6 s to start under load stopped before writing any row).
STEP_TIMEOUT_SECONDS = 2
DIALOGUE_RUNS = 20


def _name(i: int) -> str:
    letters = ""
    for _ in range(3):
        i, letter = divmod(i, 26)
        letters += string.ascii_uppercase[letter]
    return f"SPEAKER {letters}"


def _speech(cue: str = "HORATIO") -> str:
    return f"{cue}\nWho's there?\n\n"


# A play with ROWS rows of one kind and a handful of every other.
PLAYS: dict[str, Callable[[int], str]] = {
    "acts": lambda n: "".join(f"# ACT {i + 1}\n\n" for i in range(n)) + "INT. HALL - NIGHT\n\n" + _speech(),
    "scenes": lambda n: "".join(f"INT. HALL {i + 1} - NIGHT\n\n" for i in range(n)) + _speech(),
    "characters": lambda n: "INT. HALL - NIGHT\n\n" + "".join(_speech(_name(i)) for i in range(n)),
    "dialogue": lambda n: "INT. HALL - NIGHT\n\n" + _speech() * n,
    "transitions": lambda n: "INT. HALL - NIGHT\n\n" + _speech() + "The lamp gutters.\n\nCUT TO:\n\n" * n,
}
STEP_OF_KIND = {
    "acts": "CreateActs",
    "scenes": "CreateScenes",
    "characters": "CreateCharacters",
    "dialogue": "CreateDialogue",
    "transitions": "CreateTransitions",
}


def play_text(kind: str, rows: int = ROWS) -> str:
    return f"Title: The Slow {kind.title()}\n\n" + PLAYS[kind](rows)


@pytest.fixture
def slow_puts(monkeypatch: pytest.MonkeyPatch) -> Callable[[str], None]:
    """Make DynamoDB take PutRequest batches for one kind's table slowly; deletes stay quick."""
    monkeypatch.setenv(topology.STEP_TIMEOUT_ENV, str(STEP_TIMEOUT_SECONDS))
    client = dynamodb_client()

    def slow_down(kind: str) -> None:
        table = ENTITY_MODELS[kind].Meta.table_name
        fast = client.batch_write_item

        def batch_write_item(**kwargs: Any) -> Any:
            requests = kwargs["RequestItems"].get(table, [])
            if any("PutRequest" in r for r in requests):
                time.sleep(PUT_BATCH_SECONDS)
            return fast(**kwargs)

        monkeypatch.setattr(client, "batch_write_item", batch_write_item)

    return slow_down


def _rolled_back_and_left(aws: LocalAws, text: str) -> tuple[str, dict[str, int]]:
    """Run one saga to its end; return its play id and the rows left once every handler returned.

    Its end is polled for lightly rather than followed through its history (as run_saga does),
    which would compete for the interpreter with the saga it watches.
    """
    play = start_play(PlayRequest(text=text), state_machine_arn=aws.resources.state_machine_arn)
    sfn = aws.client("stepfunctions")
    give_up = time.monotonic() + 30
    while sfn.describe_execution(executionArn=play.execution_arn)["status"] == "RUNNING":
        assert time.monotonic() < give_up, f"{play.execution_arn} still RUNNING"
        time.sleep(0.02)
    # The state machine may be done while a handler it gave up on still runs in its thread.
    assert INVOCATIONS.wait_idle(timeout=10), "a handler was still running 10 s after the saga ended"
    return play.play_id, count_rows(play.play_id)


def _assert_stopped_in_time(play_id: str, step: str, kind: str) -> None:
    entry = ledger.get_entry(play_id)
    assert entry is not None and entry.status == "ROLLED_BACK"
    failure = ledger.failure_of(entry)
    assert failure is not None and failure["step"] == step
    # The step stopped itself before the state machine's timeout could.
    assert failure["error"] == "StepOutOfTime"
    cause = failure["cause"]
    assert cause.startswith(f"{step} stopped before its deadline: ")
    assert f"of {ROWS} {kind} rows written" in cause
    assert "fountain" not in cause and ".py" not in cause and "stackTrace" not in cause
    written = int(cause.split(": ")[1].split(" of ")[0].replace(",", ""))
    assert 0 < written < ROWS  # it was part-way through when it stopped


@pytest.mark.parametrize("kind", ["acts", "scenes", "characters", "transitions"])
def test_a_step_out_of_time_leaves_no_row_behind_its_compensation(
    kind: str, local_aws: LocalAws, slow_puts: Callable[[str], None]
) -> None:
    assert parse_play(play_text(kind)).counts()[kind] == ROWS
    slow_puts(kind)

    play_id, left = _rolled_back_and_left(local_aws, play_text(kind))

    assert left == NO_ROWS
    _assert_stopped_in_time(play_id, STEP_OF_KIND[kind], kind)


def test_dialogue_out_of_time_leaves_no_row_twenty_times_in_a_row(
    local_aws: LocalAws, slow_puts: Callable[[str], None]
) -> None:
    slow_puts("dialogue")
    text = play_text("dialogue")
    runs = [_rolled_back_and_left(local_aws, text) for _ in range(DIALOGUE_RUNS)]

    # Rows first: they are what a missing deadline leaves, run after run.
    left_per_run = [sum(left.values()) for _, left in runs]
    assert left_per_run == [0] * DIALOGUE_RUNS, f"rows left behind, run by run: {left_per_run}"
    for play_id, _ in runs:
        _assert_stopped_in_time(play_id, "CreateDialogue", "dialogue")


def _invoke(step: str, event: dict[str, Any], seconds: float) -> dict[str, Any]:
    spec = topology.function(step)
    context = LocalLambdaContext(
        spec.name, f"arn:aws:lambda:us-east-1:123456789012:function:{spec.name}", 1024, seconds
    )
    result: dict[str, Any] = resolve_handler(spec.handler)(event, context)
    return result


@pytest.mark.usefixtures("local_aws")
def test_a_handler_with_too_little_time_left_writes_nothing_and_says_so() -> None:
    play = parse_play(play_text("dialogue", 60))
    play_id = uuid.uuid4().hex
    event = {
        "playId": play_id,
        "sagaId": f"create-{play_id}",
        "counts": {"script": 1, **play.counts()},
        "play": stage_play(play, play_id).to_event(),
        "fault": None,
        "stepTimeoutSeconds": 60,
    }
    _invoke("CreateScript", event, 60)

    with pytest.raises(StepOutOfTime, match=r"^CreateDialogue stopped before its deadline: 0 of 60 dialogue"):
        _invoke("CreateDialogue", event, 0.1)  # Lambda's deadline, sooner than the state's
    with pytest.raises(StepOutOfTime, match=r"^CreateDialogue stopped before its deadline: 0 of 60 dialogue"):
        _invoke("CreateDialogue", {**event, "stepTimeoutSeconds": 0.2}, 60)  # the state's, sooner
    with pytest.raises(
        StepOutOfTime, match=r"^PublishPlay stopped before its deadline: play left unpublished"
    ):
        _invoke("PublishPlay", event, 0.1)
    assert count_rows(play_id) == {**NO_ROWS, "script": 1}
    assert read_head(play_id) is None

    with pytest.raises(
        StepOutOfTime, match=r"^DeleteScript stopped before its deadline: 0 of 1 script rows deleted"
    ):
        _invoke("DeleteScript", event, 0.1)
    assert count_rows(play_id)["script"] == 1
    _invoke("DeleteScript", event, 60)
    assert count_rows(play_id) == NO_ROWS
