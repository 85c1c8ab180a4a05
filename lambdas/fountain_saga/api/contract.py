"""The API's OpenAPI 3 document: what each route takes and every status and error code it answers.

Powertools' OpenAPI support builds the document from the resolver's own routes (paths, methods,
path parameters from the handlers' signatures, response schemas from the models below), so a
route cannot exist without being documented. Powertools' request validation stays off: the
handlers read the body, headers and query themselves, because the API's contract is its own
error codes (``malformed_json``, ``invalid_limit``...) where validation would answer its own 422.
What those handlers read is declared here and passed to each route as OpenAPI extensions, merged
into its operation as is. tests/unit/test_api_contract.py drives every route through every code
documented here and fails on a response the document does not list.

``make openapi`` writes the document to docs/openapi.json; the API serves it at /openapi.json and
Swagger UI at /docs.
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from functools import cache
from importlib import resources
from pathlib import Path as FilePath
from typing import TYPE_CHECKING, Any, Literal

from aws_lambda_powertools.event_handler.openapi.params import Path
from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from fountain_saga.api.requests import IDEMPOTENCY_KEY, MAX_BODY_BYTES, MAX_FAIL_ATTEMPTS, CreatePlayBody
from fountain_saga.api.views import DEFAULT_PAGE, MAX_PAGE
from fountain_saga.saga.faults import FAULT_MODES
from fountain_saga.saga.ledger import PLAY_STATUSES, PlayStatus, SagaStatus
from fountain_saga.topology import MACHINES, Operation

if TYPE_CHECKING:
    from aws_lambda_powertools.event_handler import APIGatewayRestResolver

TITLE = "Fountain"
VERSION = "1.0.0"
DESCRIPTION = (
    "Plays in Fountain markup, stored by an orchestrated saga.\n\n"
    'Every error, whoever answers it, is `{"error": {"code", "message"}}`. Besides the codes each '
    "operation lists: `404 not_found` for a path that is no route, `405 method_not_allowed` (with an "
    "`Allow` header) for a method a path does not take. A deployed API is called with SigV4 (service "
    "`execute-api`), and API Gateway answers some requests itself, in the same shape: `403` "
    "(missing_authentication, invalid_signature, expired_token, access_denied), `413 body_too_large` "
    "(over 10 MB), `429 throttled`, `504 integration_timeout`."
)
ERROR_MEDIA_TYPE = "application/json"
PLAY_ID = Path(description="the play's id: 32 lowercase hex characters", examples=["3f0c" + "0" * 28])


class _Model(BaseModel):
    # The API's field names are camelCase (playId, createdAt...).
    model_config = ConfigDict(extra="forbid", alias_generator=to_camel, populate_by_name=True)


class ErrorDetail(_Model):
    code: str = Field(description="stable, for programs: one of the codes the operation lists")
    message: str = Field(description="for people: what was wrong and what to do")


class ErrorBody(_Model):
    error: ErrorDetail


class StartedLinks(_Model):
    self: str


class Started(_Model):
    """The saga was started (or, for a repeated Idempotency-Key, had been)."""

    play_id: str
    status: SagaStatus
    links: StartedLinks


class PlayLinks(_Model):
    self: str
    fountain: str
    sagas: str


class Counts(_Model):
    acts: int | None
    scenes: int | None
    characters: int | None
    dialogue: int | None
    transitions: int | None


class Step(_Model):
    name: str
    status: str = Field(description="PENDING, RUNNING, SUCCEEDED, FAILED, COMPENSATED, ...")
    started_at: str | None
    ended_at: str | None
    rows: int | None


class Failure(_Model):
    step: str | None
    error: str | None
    cause: str | None


class Saga(_Model):
    saga_id: str
    operation: Operation
    status: SagaStatus
    version: int = Field(description="the version it writes (create: 1; revise: the draft) or deletes")
    started_at: str | None
    ended_at: str | None = Field(description="null while it runs")
    steps: list[Step]
    failure: Failure | None = Field(description="the step that failed, and why")
    compensation_failure: Failure | None = Field(
        default=None, description="a compensation that failed too: the play waits for an operator"
    )
    cleanup_failure: Failure | None = Field(
        default=None,
        description="a step after the pivot that still failed after its retries: the change is made, "
        "and an operator's resume finishes the clean-up",
    )


class PlayView(_Model):
    play_id: str
    title: str
    status: PlayStatus = Field(
        description="the play's state; a revision running on a COMPLETED play leaves it COMPLETED"
    )
    version: int = Field(description="the version readers get (1 after the create); the ETag")
    counts: Counts
    saga: Saga = Field(description="the latest saga")
    created_at: str = Field(description="UTC, ISO 8601 with milliseconds: 2026-11-29T09:03:30.123Z")
    updated_at: str = Field(description="UTC, ISO 8601 with milliseconds")
    links: PlayLinks


class PlaySummary(_Model):
    play_id: str
    title: str
    status: PlayStatus
    version: int
    created_at: str
    updated_at: str
    links: PlayLinks


class PlaysPage(_Model):
    plays: list[PlaySummary]
    next_token: str | None = Field(description="pass it back for the next page; null on the last")


class SagaHistory(_Model):
    play_id: str
    sagas: list[Saga] = Field(description="newest first")
    next_token: str | None = Field(description="pass it back for the next (older) page; null on the last")


class StartedSaga(_Model):
    operation: Operation
    status: SagaStatus


class Revising(_Model):
    """The revision was started (or, for a repeated Idempotency-Key, had been)."""

    play_id: str
    version: int = Field(description="the version the revision writes: the play's next")
    saga: StartedSaga
    execution_arn: str
    links: PlayLinks


class Deleting(_Model):
    """The deletion was started, or had been: deleting a play again answers with its deletion."""

    play_id: str
    status: Literal["DELETING", "DELETED"]
    execution_arn: str


# Every error code the API's own handlers answer, with its status and what it means.
ERRORS: dict[str, tuple[int, str]] = {
    "malformed_json": (400, "the body is not JSON"),
    "invalid_body": (
        400,
        "the JSON is not {fountain, title} (missing, empty, mistyped or unknown fields, duplicate keys, "
        "nesting or numbers past the limits), or the body is not valid base64",
    ),
    "invalid_encoding": (400, "the body is not UTF-8"),
    "empty_play": (400, "the Fountain text is empty"),
    "invalid_play": (400, "the text has no scene heading and no dialogue, holds NUL characters, ..."),
    "play_too_large": (400, "a part of the play would be a DynamoDB item over 400 KB; the message names it"),
    "invalid_idempotency_key": (400, "Idempotency-Key is not 1 to 128 of A-Z a-z 0-9 - _"),
    "fault_injection_disabled": (400, "X-Fountain-Fail-At sent to a deployment without fault injection"),
    "unknown_step": (400, "X-Fountain-Fail-At names no step of this operation's saga"),
    "unknown_fault_mode": (400, "X-Fountain-Fail-Mode is not before, partial or timeout"),
    "invalid_fault": (
        400,
        f"X-Fountain-Fail-Attempts is not a whole number from 1 to {MAX_FAIL_ATTEMPTS}, or a fault "
        "header came without X-Fountain-Fail-At",
    ),
    "invalid_if_match": (400, 'If-Match is not one version\'s ETag ("3" or W/"3") or *'),
    "idempotency_conflict": (409, "the Idempotency-Key was used with another request"),
    "body_too_large": (413, "the body is over 2 MiB"),
    "unsupported_media_type": (415, "the Content-Type is not application/json or text/plain"),
    "unsupported_charset": (415, "the charset is not UTF-8"),
    "invalid_status": (400, "status is not a play status, or is given twice"),
    "invalid_limit": (400, f"limit is not a whole number from 1 to {MAX_PAGE}, or is given twice"),
    "invalid_next_token": (400, "nextToken was not issued by this API for this listing, or is given twice"),
    "invalid_play_id": (400, "the play id is not 32 lowercase hex characters"),
    "play_not_found": (404, "no play has this id"),
    "play_not_complete": (
        409,
        "the play is not COMPLETED (being created, rolled back...): it has no text and cannot be revised",
    ),
    "saga_in_progress": (
        409,
        "another saga holds the play: running, or ended needing an operator's resume; the message says which",
    ),
    "play_deleted": (410, "the play is deleted, or being deleted"),
    "precondition_failed": (412, "If-Match names a version the play is no longer at"),
    "play_changing": (503, "the play was revised again and again while it was read; read it again"),
    "internal_error": (500, "a fault on the API's side; the request left no play behind"),
}
_STATUS_TEXT = {
    400: "Bad request",
    404: "Not found",
    409: "Conflict",
    410: "Gone",
    412: "Precondition failed",
    413: "Body too large",
    415: "Unsupported media type",
    500: "Internal error",
    503: "Unavailable",
}


def _errors(*codes: str) -> dict[int, Any]:
    by_status: dict[int, dict[str, Any]] = defaultdict(dict)
    for code in (*codes, "internal_error"):
        status, meaning = ERRORS[code]
        by_status[status][code] = {
            "summary": meaning,
            "value": {"error": {"code": code, "message": meaning}},
        }
    return {
        status: {
            "description": f"{_STATUS_TEXT[status]}: {', '.join(examples)}",
            "content": {ERROR_MEDIA_TYPE: {"model": ErrorBody, "examples": examples}},
        }
        for status, examples in sorted(by_status.items())
    }


def _header(name: str, description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "in": "header", "required": False, "description": description, "schema": schema}


def _query(name: str, description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "description": description, "schema": schema}


def _fault_headers(operation: Operation) -> list[dict[str, Any]]:
    return [
        _header(
            "X-Fountain-Fail-At",
            f"make this step of the {operation} saga fail (deployments with fault injection only)",
            {"type": "string", "enum": list(MACHINES[operation].steps)},
        ),
        _header(
            "X-Fountain-Fail-Mode",
            "how the step fails",
            {"type": "string", "enum": list(FAULT_MODES), "default": "partial"},
        ),
        _header(
            "X-Fountain-Fail-Attempts",
            "fail only the step's first N attempts (a retried step then succeeds); every attempt if absent",
            {"type": "integer", "minimum": 1, "maximum": MAX_FAIL_ATTEMPTS},
        ),
    ]


def _idempotency_header(what: str) -> dict[str, Any]:
    return _header(
        "Idempotency-Key",
        f"the same key and request within 24 hours return the same {what} and start no second saga",
        {"type": "string", "pattern": IDEMPOTENCY_KEY.pattern},
    )


_IF_MATCH = _header(
    "If-Match",
    'the version the change is based on, as GET sends it in ETag: "3" (W/"3" is the same); * or none '
    "for whatever version the play is at",
    {"type": "string"},
)
_PLAY_BODY = {
    "required": True,
    "description": f"UTF-8, at most {MAX_BODY_BYTES:,} bytes",
    "content": {
        "application/json": {"schema": CreatePlayBody.model_json_schema()},
        "text/plain": {"schema": {"type": "string", "description": "the Fountain text itself"}},
    },
}
_BODY_ERRORS = (
    "malformed_json",
    "invalid_body",
    "invalid_encoding",
    "empty_play",
    "invalid_play",
    "play_too_large",
    "body_too_large",
    "unsupported_media_type",
    "unsupported_charset",
)
_FAULT_ERRORS = ("fault_injection_disabled", "unknown_step", "unknown_fault_mode", "invalid_fault")
_LOCATION = {"Location": {"description": "the play's URL path: poll it", "schema": {"type": "string"}}}
_ETAG = {
    "ETag": {
        "description": 'the version, quoted ("3"): send it back in If-Match to change this version only',
        "schema": {"type": "string"},
    }
}

CREATE_PLAY: dict[str, Any] = {
    "operation_id": "createPlay",
    "summary": "Start the create-play saga",
    "description": (
        "Reads the play, stages it and starts the saga; returns at once. Poll the play's link "
        "until its status is COMPLETED, ROLLED_BACK or COMPENSATION_FAILED."
    ),
    "responses": {
        202: {
            "description": "The saga started (or, for a repeated Idempotency-Key and body, had started)",
            "headers": _LOCATION,
            "content": {"application/json": {"model": Started}},
        },
        **_errors(*_BODY_ERRORS, "invalid_idempotency_key", *_FAULT_ERRORS, "idempotency_conflict"),
    },
    "openapi_extensions": {
        "parameters": [_idempotency_header("play"), *_fault_headers("create")],
        "requestBody": _PLAY_BODY,
    },
}
REVISE_PLAY: dict[str, Any] = {
    "operation_id": "revisePlay",
    "summary": "Start the revise-play saga: a new draft of the play",
    "description": (
        "Reads the draft as POST /plays reads a play, stages it and starts the saga; returns at once. "
        "Readers get the current version until the saga's pivot (SwitchVersion), then the draft; the "
        "previous version's rows are deleted after it. Poll the play until its saga's status is "
        "COMPLETED (the play is at the new version), ROLLED_BACK (still at the old one), "
        "COMPENSATION_FAILED or CLEANUP_PENDING. One saga at a time acts on a play."
    ),
    "responses": {
        202: {
            "description": "The revision started (or, for a repeated Idempotency-Key and body, had started)",
            "headers": _LOCATION,
            "content": {"application/json": {"model": Revising}},
        },
        **_errors(
            "invalid_play_id",
            *_BODY_ERRORS,
            "invalid_idempotency_key",
            "invalid_if_match",
            *_FAULT_ERRORS,
            "play_not_found",
            "saga_in_progress",
            "play_not_complete",
            "idempotency_conflict",
            "play_deleted",
            "precondition_failed",
        ),
    },
    "openapi_extensions": {
        "parameters": [_IF_MATCH, _idempotency_header("revision"), *_fault_headers("revise")],
        "requestBody": _PLAY_BODY,
    },
}
DELETE_PLAY: dict[str, Any] = {
    "operation_id": "deletePlay",
    "summary": "Start the delete-play saga",
    "description": (
        "Marks the play DELETING (its text is 410 from then on), deletes its rows and keeps a "
        "tombstone: GET /plays/{playId} then answers status DELETED. Deleting a play deleted, or "
        "being deleted, starts nothing and answers with that deletion."
    ),
    "responses": {
        202: {
            "description": "The deletion started, or had started",
            "headers": _LOCATION,
            "content": {"application/json": {"model": Deleting}},
        },
        **_errors(
            "invalid_play_id",
            "invalid_idempotency_key",
            "invalid_if_match",
            *_FAULT_ERRORS,
            "play_not_found",
            "saga_in_progress",
            "idempotency_conflict",
            "precondition_failed",
        ),
    },
    "openapi_extensions": {
        "parameters": [_IF_MATCH, _idempotency_header("deletion"), *_fault_headers("delete")],
    },
}
LIST_PLAYS: dict[str, Any] = {
    "operation_id": "listPlays",
    "summary": "List plays, newest first",
    "responses": {
        200: {"description": "A page of plays", "content": {"application/json": {"model": PlaysPage}}},
        **_errors("invalid_status", "invalid_limit", "invalid_next_token"),
    },
    "openapi_extensions": {
        "parameters": [
            _query("status", "only plays in this status", {"type": "string", "enum": list(PLAY_STATUSES)}),
            _query(
                "limit",
                "plays per page",
                {"type": "integer", "minimum": 1, "maximum": MAX_PAGE, "default": DEFAULT_PAGE},
            ),
            _query(
                "nextToken",
                "the previous page's nextToken, with the same status; the local server's tokens do not "
                "outlive it",
                {"type": "string"},
            ),
        ]
    },
}
GET_PLAY: dict[str, Any] = {
    "operation_id": "getPlay",
    "summary": "A play: its status, version, counts and latest saga, step by step",
    "description": "A deleted play answers too, with status DELETED (a tombstone).",
    "responses": {
        200: {
            "description": "The play",
            "headers": _ETAG,
            "content": {"application/json": {"model": PlayView}},
        },
        **_errors("invalid_play_id", "play_not_found"),
    },
}
LIST_SAGAS: dict[str, Any] = {
    "operation_id": "listPlaySagas",
    "summary": "Every saga of a play (create, revisions, deletion), newest first",
    "responses": {
        200: {
            "description": "A page of the play's sagas",
            "content": {"application/json": {"model": SagaHistory}},
        },
        **_errors("invalid_play_id", "play_not_found", "invalid_limit", "invalid_next_token"),
    },
    "openapi_extensions": {
        "parameters": [
            _query(
                "limit",
                "sagas per page",
                {"type": "integer", "minimum": 1, "maximum": MAX_PAGE, "default": DEFAULT_PAGE},
            ),
            _query("nextToken", "the previous page's nextToken, for this play", {"type": "string"}),
        ]
    },
}
GET_FOUNTAIN: dict[str, Any] = {
    "operation_id": "getPlayFountain",
    "summary": "The play's text, rebuilt from the six tables",
    "description": (
        "The version readers get: while a revision runs, the version it replaces until its pivot. "
        "ETag names the version served."
    ),
    "responses": {
        200: {
            "description": "The text that was sent, byte for byte (line endings as \\n, no byte-order mark)",
            "headers": _ETAG,
            "content": {"text/plain; charset=utf-8": {"schema": {"type": "string"}}},
        },
        **_errors("invalid_play_id", "play_not_found", "play_not_complete", "play_deleted", "play_changing"),
    },
}


def build_document(resolver: APIGatewayRestResolver) -> dict[str, Any]:
    """The document of the resolver's routes, without what Powertools adds for its own request
    validation (off here): schemas no operation refers to."""
    document: dict[str, Any] = json.loads(
        resolver.get_openapi_json_schema(title=TITLE, version=VERSION, description=DESCRIPTION)
    )
    _declare_headers(resolver, document)
    schemas = document.get("components", {}).get("schemas", {})
    used: set[str] = set()
    pending = [document["paths"]]
    while pending:
        node = pending.pop()
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/components/schemas/") and ref not in used:
                used.add(ref)
                pending.append(schemas.get(ref.rsplit("/", 1)[-1]))
            pending.extend(node.values())
        elif isinstance(node, list):
            pending.extend(node)
    document["components"]["schemas"] = {
        name: schema for name, schema in schemas.items() if f"#/components/schemas/{name}" in used
    }
    return document


def _declare_headers(resolver: APIGatewayRestResolver, document: dict[str, Any]) -> None:
    """Powertools writes the parameters it derives from a handler's signature (its path parameter)
    over those the route declares; an operation takes both, the path's first."""
    for route in resolver._static_routes + resolver._dynamic_routes:
        declared = (route.openapi_extensions or {}).get("parameters")
        operation = document["paths"].get(route.openapi_path, {}).get(route.method.lower())
        if not declared or operation is None:
            continue
        present = {(p["in"], p["name"]) for p in operation.get("parameters", [])}
        operation["parameters"] = [
            *operation.get("parameters", []),
            *(p for p in declared if (p["in"], p["name"]) not in present),
        ]


def document_text(document: dict[str, Any]) -> str:
    """docs/openapi.json as checked in: indented for review, keys in a stable order."""
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


@cache
def swagger_assets() -> tuple[str, str]:
    """Swagger UI's script and style, as Powertools ships them: /docs needs no CDN."""
    package = resources.files("aws_lambda_powertools.event_handler.openapi.swagger_ui")
    return (
        (package / "swagger-ui-bundle.min.js").read_text(encoding="utf-8"),
        (package / "swagger-ui.min.css").read_text(encoding="utf-8"),
    )


def main(argv: list[str]) -> int:
    """``python -m fountain_saga.api.contract docs/openapi.json``: write the document."""
    from fountain_saga.api.app import app

    if len(argv) != 1:
        print("usage: python -m fountain_saga.api.contract OUTPUT.json", file=sys.stderr)
        return 64
    FilePath(argv[0]).write_text(document_text(build_document(app)), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
