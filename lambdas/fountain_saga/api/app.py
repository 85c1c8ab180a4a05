"""The HTTP API, as API Gateway serves it and as the local server mirrors it."""

from __future__ import annotations

import dataclasses
from functools import cache
from typing import Annotated, Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.openapi.swagger_ui import generate_swagger_html

from fountain_saga.api import contract
from fountain_saga.api.errors import ApiError, error_response
from fountain_saga.api.requests import read_create_request
from fountain_saga.api.responses import base_path, compact_json
from fountain_saga.api.views import links, list_plays, play_view, query_parameters
from fountain_saga.entities.reader import load_play
from fountain_saga.entities.service import PLAY_ID_PATTERN
from fountain_saga.play.fountain_export import render_fountain
from fountain_saga.play.fountain_import import PlayRejected
from fountain_saga.saga import ledger
from fountain_saga.saga.faults import injection_enabled
from fountain_saga.saga.intake import LOCAL_PRINCIPAL, FaultInjectionDisabled, IdempotencyConflict, start_play

logger = Logger(child=True)
app = APIGatewayRestResolver(serializer=compact_json)


@app.post("/plays", **contract.CREATE_PLAY)
def create_play() -> Response[Any]:
    event = app.current_event
    request = read_create_request(
        dict(event.headers or {}),
        event.body,
        event.is_base64_encoded or False,
        injection_allowed=injection_enabled(),
    )
    try:
        started = start_play(dataclasses.replace(request, principal=caller_of(event.raw_event)))
    except PlayRejected as error:
        raise ApiError(400, error.code, str(error)) from None
    except IdempotencyConflict as error:
        raise ApiError(409, "idempotency_conflict", str(error)) from None
    except FaultInjectionDisabled as error:
        raise ApiError(400, "fault_injection_disabled", str(error)) from None
    logger.info("saga started", extra={"playId": started.play_id, "replayed": started.replayed})
    where = links(started.play_id, base_path(event.raw_event))["self"]
    # No execution ARN: it names the account, region and state machine, which clients have no
    # use for; the play id is their handle, and operators find the execution from the ledger.
    body = {"playId": started.play_id, "status": started.status, "links": {"self": where}}
    return Response(
        status_code=202, content_type="application/json", body=compact_json(body), headers={"Location": where}
    )


@app.get("/plays", **contract.LIST_PLAYS)
def get_plays() -> dict[str, Any]:
    event = app.current_event
    params = query_parameters(event.multi_value_query_string_parameters or {})
    return list_plays(
        params.get("status"), params.get("limit"), params.get("nextToken"), base_path(event.raw_event)
    )


# The path parameter's name is the API's (playId), as in the document and the gateway's resources.
@app.get("/plays/<playId>", **contract.GET_PLAY)
def get_play(playId: Annotated[str, contract.PLAY_ID]) -> dict[str, Any]:  # noqa: N803
    return play_view(_entry(playId), base_path(app.current_event.raw_event))


@app.get("/plays/<playId>/fountain", **contract.GET_FOUNTAIN)
def get_fountain(playId: Annotated[str, contract.PLAY_ID]) -> Response[Any]:  # noqa: N803
    entry = _entry(playId)
    play = load_play(playId) if entry.status == "COMPLETED" else None
    if play is None:
        raise ApiError(
            409, "play_not_complete", f"play {playId} is {entry.status}; its text exists once COMPLETED"
        )
    return Response(status_code=200, content_type="text/plain; charset=utf-8", body=render_fountain(play))


# The document and Swagger UI are served wherever the API runs; deployed they are reached through
# the gateway's {proxy+} and, like every route, need a SigV4 signature.
@app.get("/openapi.json", include_in_schema=False)
def get_openapi() -> Response[Any]:
    return Response(status_code=200, content_type="application/json", body=compact_json(_document()))


@app.get("/docs", include_in_schema=False)
def get_docs() -> Response[Any]:
    if (app.current_event.query_string_parameters or {}).get("format") == "json":
        return get_openapi()  # the address Swagger UI shows for its document
    script, style = contract.swagger_assets()
    # As Powertools' own enable_swagger renders it, but with this document (compact, pruned).
    spec = compact_json(_document()).replace("</", "<\\/")
    html = generate_swagger_html(spec, script, style, "", None)
    return Response(status_code=200, content_type="text/html; charset=utf-8", body=html)


@cache
def _document() -> dict[str, Any]:
    return contract.build_document(app)


def _entry(play_id: str) -> ledger.LedgerRow:
    if not PLAY_ID_PATTERN.fullmatch(play_id):
        shown = play_id if len(play_id) <= 64 else play_id[:64] + "..."
        raise ApiError(400, "invalid_play_id", f"{shown!r} is not a play id (32 lowercase hex characters)")
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
    method, path = event.http_method.upper(), event.path
    allowed = allowed_methods(path)
    shown = path if len(path) <= 200 else path[:200] + "..."
    if not allowed:
        return error_response(404, "not_found", f"no route {method} {shown}")
    allow = ", ".join(allowed)
    if method == "OPTIONS":
        return Response(status_code=204, content_type=None, body="", headers={"Allow": allow})
    return error_response(
        405, "method_not_allowed", f"{shown} does not take {method[:20]}; it takes {allow}", {"Allow": allow}
    )


def allowed_methods(path: str) -> list[str]:
    """The methods the API takes on this path (HEAD wherever GET), or none for an unknown path."""
    methods = {route.method for route in app._static_routes + app._dynamic_routes if route.rule.match(path)}
    if "GET" in methods:
        methods.add("HEAD")
    return sorted(methods)


@app.exception_handler(Exception)  # type: ignore[untyped-decorator]
def _unexpected(error: Exception) -> Response[Any]:
    logger.exception("unexpected error")
    return error_response(
        500, "internal_error", "something went wrong on our side; the request left no play behind"
    )


def caller_of(event: dict[str, Any]) -> str:
    """Who is calling: the IAM principal API Gateway authenticated (SigV4), or the local one."""
    identity = (event.get("requestContext") or {}).get("identity") or {}
    return str(identity.get("userArn") or identity.get("caller") or LOCAL_PRINCIPAL)
