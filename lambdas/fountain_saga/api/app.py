"""The HTTP API, as API Gateway serves it and as the local server mirrors it."""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response

from fountain_saga.api.errors import ApiError, error_response
from fountain_saga.api.requests import read_create_request
from fountain_saga.api.views import links, list_plays, play_view
from fountain_saga.entities.reader import load_play
from fountain_saga.entities.service import PLAY_ID_PATTERN
from fountain_saga.play.fountain_export import render_fountain
from fountain_saga.play.fountain_import import PlayRejected
from fountain_saga.saga import ledger
from fountain_saga.saga.faults import injection_enabled
from fountain_saga.saga.intake import FaultInjectionDisabled, IdempotencyConflict, start_play

logger = Logger(child=True)
app = APIGatewayRestResolver()


@app.post("/plays")
def create_play() -> Response[Any]:
    event = app.current_event
    request = read_create_request(
        dict(event.headers or {}),
        event.body,
        event.is_base64_encoded or False,
        injection_allowed=injection_enabled(),
    )
    try:
        started = start_play(request)
    except PlayRejected as error:
        raise ApiError(400, error.code, str(error)) from None
    except IdempotencyConflict as error:
        raise ApiError(409, "idempotency_conflict", str(error)) from None
    except FaultInjectionDisabled as error:
        raise ApiError(400, "fault_injection_disabled", str(error)) from None
    logger.info("saga started", extra={"playId": started.play_id, "replayed": started.replayed})
    body = {
        "playId": started.play_id,
        "status": started.status,
        "executionArn": started.execution_arn,
        "links": {"self": links(started.play_id)["self"]},
    }
    return Response(
        status_code=202,
        content_type="application/json",
        body=json.dumps(body),
        headers={"Location": f"/plays/{started.play_id}"},
    )


@app.get("/plays")
def get_plays() -> dict[str, Any]:
    params = app.current_event.query_string_parameters or {}
    return list_plays(params.get("status"), params.get("limit"), params.get("nextToken"))


@app.get("/plays/<play_id>")
def get_play(play_id: str) -> dict[str, Any]:
    return play_view(_entry(play_id))


@app.get("/plays/<play_id>/fountain")
def get_fountain(play_id: str) -> Response[Any]:
    entry = _entry(play_id)
    play = load_play(play_id) if entry.status == "COMPLETED" else None
    if play is None:
        raise ApiError(
            409, "play_not_complete", f"play {play_id} is {entry.status}; its text exists once COMPLETED"
        )
    return Response(status_code=200, content_type="text/plain; charset=utf-8", body=render_fountain(play))


def _entry(play_id: str) -> ledger.LedgerRow:
    if not PLAY_ID_PATTERN.match(play_id):
        raise ApiError(400, "invalid_play_id", f"{play_id!r} is not a play id (32 hex characters)")
    entry = ledger.get_entry(play_id)
    if entry is None:
        raise ApiError(404, "play_not_found", f"no play {play_id}")
    return entry


@app.exception_handler(ApiError)  # type: ignore[untyped-decorator]
def _api_error(error: ApiError) -> Response[Any]:
    return error.response()


@app.not_found
def _not_found(_: Exception) -> Response[Any]:
    event = app.current_event
    return error_response(404, "not_found", f"no route {event.http_method} {event.path}")


@app.exception_handler(Exception)  # type: ignore[untyped-decorator]
def _unexpected(error: Exception) -> Response[Any]:
    logger.exception("unexpected error")
    return error_response(
        500, "internal_error", "something went wrong on our side; the request left no play behind"
    )
