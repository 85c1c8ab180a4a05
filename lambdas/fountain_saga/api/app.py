"""The HTTP API, as API Gateway serves it and as the local server mirrors it."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from typing import Annotated, Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.openapi.swagger_ui import generate_swagger_html

from fountain_saga.api import contract
from fountain_saga.api.errors import ApiError, error_response
from fountain_saga.api.requests import (
    IF_MATCH_HEADER,
    lowered_headers,
    read_create_request,
    read_fault,
    read_idempotency_key,
    read_if_match,
    read_play_request,
)
from fountain_saga.api.responses import base_path, compact_json
from fountain_saga.api.views import (
    etag,
    links,
    list_plays,
    play_status_of,
    play_view,
    query_parameters,
    saga_history,
)
from fountain_saga.entities.batch_store import TransientStoreError
from fountain_saga.entities.reader import PlayBeingDeleted, read_play
from fountain_saga.entities.service import PLAY_ID_PATTERN
from fountain_saga.play.fountain_export import render_fountain
from fountain_saga.play.fountain_import import PlayRejected
from fountain_saga.saga import ledger
from fountain_saga.saga.faults import injection_enabled
from fountain_saga.saga.intake import (
    LOCAL_PRINCIPAL,
    FaultInjectionDisabled,
    IdempotencyConflict,
    prepare_play,
    start_play,
)
from fountain_saga.saga.play_changes import (
    PlayGone,
    PlayNotFound,
    PreconditionFailed,
    SagaInProgress,
    StartedSaga,
    start_deletion,
    start_revision,
)

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
def get_play(playId: Annotated[str, contract.PLAY_ID]) -> Response[Any]:  # noqa: N803
    entry = _entry(playId)
    view = play_view(entry, base_path(app.current_event.raw_event))
    return Response(
        status_code=200,
        content_type="application/json",
        body=compact_json(view),
        headers={"ETag": etag(int(entry.version))},
    )


@app.put("/plays/<playId>", **contract.REVISE_PLAY)
def revise_play(playId: Annotated[str, contract.PLAY_ID]) -> Response[Any]:  # noqa: N803
    _check_play_id(playId)
    event = app.current_event
    request = read_play_request(
        dict(event.headers or {}),
        event.body,
        event.is_base64_encoded or False,
        injection_allowed=injection_enabled(),
        operation="revise",
    )
    if_match = read_if_match(_header_values(IF_MATCH_HEADER))
    with _refusals(playId, "revised"):
        prepared = prepare_play(request.text, request.title)
        request = dataclasses.replace(request, principal=caller_of(event.raw_event), prepared=prepared)
        started = start_revision(playId, request, if_match=if_match)
    _log_started(started)
    where = links(playId, base_path(event.raw_event))
    body = {
        "playId": playId,
        "version": started.version,
        "saga": {"operation": started.operation, "status": started.status},
        "executionArn": started.execution_arn,
        "links": where,
    }
    return _accepted(body, where["self"])


@app.delete("/plays/<playId>", **contract.DELETE_PLAY)
def delete_play(playId: Annotated[str, contract.PLAY_ID]) -> Response[Any]:  # noqa: N803
    _check_play_id(playId)
    event = app.current_event
    headers = lowered_headers(dict(event.headers or {}))
    fault = read_fault(headers, injection_enabled(), "delete")
    key = read_idempotency_key(headers)
    if_match = read_if_match(_header_values(IF_MATCH_HEADER))
    with _refusals(playId, "deleted"):
        started = start_deletion(
            playId, principal=caller_of(event.raw_event), idempotency_key=key, if_match=if_match, fault=fault
        )
    _log_started(started)
    body = {"playId": playId, "status": started.play_status, "executionArn": started.execution_arn}
    return _accepted(body, links(playId, base_path(event.raw_event))["self"])


@app.get("/plays/<playId>/sagas", **contract.LIST_SAGAS)
def get_sagas(playId: Annotated[str, contract.PLAY_ID]) -> dict[str, Any]:  # noqa: N803
    entry = _entry(playId)
    params = query_parameters(app.current_event.multi_value_query_string_parameters or {})
    return saga_history(entry, params.get("limit"), params.get("nextToken"))


@app.get("/plays/<playId>/fountain", **contract.GET_FOUNTAIN)
def get_fountain(playId: Annotated[str, contract.PLAY_ID]) -> Response[Any]:  # noqa: N803
    entry = _entry(playId)
    _refuse_unreadable(entry)
    try:
        stored = read_play(playId)
    except PlayBeingDeleted:
        stored = None
    except TransientStoreError as error:
        raise ApiError(503, "play_changing", str(error), {"Retry-After": "1"}) from None
    if stored is None:
        # The ledger said COMPLETED a moment ago: a deletion has begun or ended since.
        _refuse_unreadable(_entry(playId))
        raise ApiError(409, "play_not_complete", f"play {playId} has no text to read now; read it again")
    # A revision running on the play is not seen until its pivot: this is the version readers have.
    return Response(
        status_code=200,
        content_type="text/plain; charset=utf-8",
        body=render_fountain(stored.document),
        headers={"ETag": etag(stored.version)},
    )


def _refuse_unreadable(entry: ledger.LedgerRow) -> None:
    status = play_status_of(entry)
    if status in ("DELETING", "DELETED"):
        raise ApiError(410, "play_deleted", f"play {entry.play_id} is {status}: its text is gone")
    if status != "COMPLETED":
        raise ApiError(
            409, "play_not_complete", f"play {entry.play_id} is {status}; its text exists once COMPLETED"
        )


def _header_values(name: str) -> list[str]:
    """Every value a header was sent with (API Gateway keeps them all in multiValueHeaders)."""
    event = app.current_event
    given = event.multi_value_headers or {k: [v] for k, v in (event.headers or {}).items()}
    return [value for key, values in given.items() if key.lower() == name for value in values or []]


@contextmanager
def _refusals(play_id: str, change: str) -> Iterator[None]:
    """Why a saga did not start on the play, as the API answers it."""
    try:
        yield
    except PlayRejected as error:
        raise ApiError(400, error.code, str(error)) from None
    except FaultInjectionDisabled as error:
        raise ApiError(400, "fault_injection_disabled", str(error)) from None
    except PlayNotFound:
        raise ApiError(404, "play_not_found", f"no play {play_id}") from None
    except IdempotencyConflict:
        raise ApiError(
            409,
            "idempotency_conflict",
            f"this Idempotency-Key was used in the last 24 hours with another request for play {play_id}; "
            "use a new key for a new request",
        ) from None
    except SagaInProgress as error:
        entry = ledger.get_entry(play_id)
        if entry is not None and entry.status in ledger.RELEASED_STATUSES:
            # No saga holds the play: it is in a state this change cannot start from.
            raise ApiError(409, "play_not_complete", str(error)) from None
        raise ApiError(409, "saga_in_progress", str(error)) from None
    except PlayGone as error:
        raise ApiError(
            410, "play_deleted", f"{error}: a deleted play is not {change}; POST /plays makes a new one"
        ) from None
    except PreconditionFailed as error:
        raise ApiError(412, "precondition_failed", str(error)) from None


def _log_started(started: StartedSaga) -> None:
    logger.info(
        "saga started",
        extra={"playId": started.play_id, "operation": started.operation, "replayed": started.replayed},
    )


def _accepted(body: dict[str, Any], where: str) -> Response[Any]:
    return Response(
        status_code=202, content_type="application/json", body=compact_json(body), headers={"Location": where}
    )


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


def _check_play_id(play_id: str) -> None:
    if not PLAY_ID_PATTERN.fullmatch(play_id):
        shown = play_id if len(play_id) <= 64 else play_id[:64] + "..."
        raise ApiError(400, "invalid_play_id", f"{shown!r} is not a play id (32 lowercase hex characters)")


def _entry(play_id: str) -> ledger.LedgerRow:
    _check_play_id(play_id)
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
