"""The six entity services, called directly: idempotent creates, complete compensations."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from fountain_saga.entities import service
from fountain_saga.entities.reader import count_rows
from fountain_saga.entities.service import StepRequest
from fountain_saga.play.document import ENTITY_KINDS
from fountain_saga.play.fountain_import import parse_play
from fountain_saga.saga.claim_check import stage_play
from fountain_saga.saga.faults import FaultPlan, InjectedFault
from tests.conftest import example_text

pytestmark = pytest.mark.usefixtures("local_aws")

STEP_OF = {
    "script": ("CreateScript", "DeleteScript"),
    "acts": ("CreateActs", "DeleteActs"),
    "scenes": ("CreateScenes", "DeleteScenes"),
    "characters": ("CreateCharacters", "DeleteCharacters"),
    "dialogue": ("CreateDialogue", "DeleteDialogue"),
    "transitions": ("CreateTransitions", "DeleteTransitions"),
}


def _request(fault: FaultPlan | None = None) -> StepRequest:
    play = parse_play(example_text())
    play_id = uuid.uuid4().hex
    ref = stage_play(play, play_id)
    counts = {"script": 1, **play.counts()}
    return StepRequest(play_id=play_id, saga_id=f"create-{play_id}", counts=counts, play=ref, fault=fault)


def _rows(request: StepRequest, kind: str) -> int:
    return count_rows(request.play_id, (kind,))[kind]


@pytest.mark.parametrize("kind", ENTITY_KINDS)
def test_create_twice_leaves_the_rows_of_one_run(kind: str) -> None:
    request = _request()
    create, _ = STEP_OF[kind]
    first = service.create_entities(kind, create, request)
    again = service.create_entities(kind, create, request)
    assert first.rows == again.rows == request.counts[kind]
    assert _rows(request, kind) == request.counts[kind]


@pytest.mark.parametrize("kind", ENTITY_KINDS)
def test_compensation_removes_a_partial_write(kind: str) -> None:
    create, delete = STEP_OF[kind]
    request = _request(FaultPlan(step=create, mode="partial"))
    with pytest.raises(InjectedFault, match="rows written"):
        service.create_entities(kind, create, request)
    assert 0 < _rows(request, kind) <= request.counts[kind]
    service.delete_entities(kind, delete, request)
    assert _rows(request, kind) == 0


@pytest.mark.parametrize("kind", ENTITY_KINDS)
def test_compensation_with_nothing_to_undo_succeeds_and_twice_is_harmless(kind: str) -> None:
    _, delete = STEP_OF[kind]
    request = _request()
    assert service.delete_entities(kind, delete, request).rows == request.counts[kind]
    service.delete_entities(kind, delete, request)
    assert _rows(request, kind) == 0


def test_compensation_after_a_retried_forward_step_leaves_nothing() -> None:
    request = _request()
    for _ in range(3):
        service.create_entities("dialogue", "CreateDialogue", request)
    service.delete_entities("dialogue", "DeleteDialogue", request)
    assert _rows(request, "dialogue") == 0


def test_a_compensation_touches_no_other_play() -> None:
    mine, theirs = _request(), _request()
    for request in (mine, theirs):
        service.create_entities("scenes", "CreateScenes", request)
    service.delete_entities("scenes", "DeleteScenes", mine)
    assert _rows(mine, "scenes") == 0
    assert _rows(theirs, "scenes") == theirs.counts["scenes"]


def test_rows_carry_the_saga_id() -> None:
    from fountain_saga.entities.models import DialogueRow

    request = _request()
    service.create_entities("dialogue", "CreateDialogue", request)
    sagas = {row.saga_id for row in DialogueRow.query(request.partition)}
    assert sagas == {request.saga_id}


def _head(request: StepRequest) -> Any:
    from fountain_saga.entities.heads import read_head

    return read_head(request.play_id)


def test_publish_lifts_the_lock_and_unpublish_puts_it_back() -> None:
    request = _request()
    service.create_entities("script", "CreateScript", request)
    assert _head(request) is None
    service.publish_play("PublishPlay", request)
    service.publish_play("PublishPlay", request)  # delivered twice: the same head
    head = _head(request)
    assert (head.version, head.status, head.saga_id) == (1, "ACTIVE", request.saga_id)
    assert service.unpublish_play("UnpublishPlay", request).rows == 1
    assert service.unpublish_play("UnpublishPlay", request).rows == 0
    assert _head(request) is None


def test_publish_without_a_script_fails_and_unpublish_has_nothing_to_undo() -> None:
    request = _request()
    with pytest.raises(service.ScriptMissing):
        service.publish_play("PublishPlay", request)
    assert service.unpublish_play("UnpublishPlay", request).rows == 0


def test_a_step_event_without_a_play_id_is_refused() -> None:
    with pytest.raises(service.InvalidStepRequest, match="playId"):
        StepRequest.from_event({"sagaId": "x"})
    with pytest.raises(service.InvalidStepRequest, match="malformed"):
        StepRequest.from_event({"playId": "../etc", "sagaId": "x"})


def test_an_unexpected_error_leaves_its_details_in_the_logs_and_says_only_what_failed() -> None:
    from fountain_local.lambda_runtime import LocalLambdaContext
    from fountain_saga.entities.handlers import StepFailed, create_dialogue

    request = _request()
    event = {
        "playId": request.play_id,
        "sagaId": request.saga_id,
        "counts": request.counts,
        # A claim check whose objects are gone: S3 answers NoSuchKey deep inside the step.
        "play": {"bucket": request.play.bucket, "prefix": "staged/nothing-here/"} if request.play else None,
        "stepTimeoutSeconds": 60,
    }
    context = LocalLambdaContext(
        "CreateDialogue", "arn:aws:lambda:us-east-1:123456789012:function:x", 1024, 60
    )
    with pytest.raises(StepFailed) as failed:
        create_dialogue(event, context)
    message = str(failed.value)
    assert message.startswith("CreateDialogue failed unexpectedly (NoSuchKey)")
    assert request.play_id in message
    assert "staged/" not in message and "fountain-" not in message  # no key, bucket or table names
