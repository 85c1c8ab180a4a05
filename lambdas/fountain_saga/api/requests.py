"""Reading a request that starts a saga (POST /plays, PUT and DELETE /plays/{playId}): content
type, size, encoding, JSON body and headers.

Everything a client can get wrong is turned into an ApiError here, before anything is staged
or started, so a rejected request leaves no trace.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from typing import Any

from aws_lambda_powertools.utilities.parser import parse
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from fountain_saga.api.errors import ApiError
from fountain_saga.play.fountain_import import MAX_TITLE_CHARS
from fountain_saga.saga.faults import FAULT_MODES, FaultPlan
from fountain_saga.saga.intake import PlayRequest
from fountain_saga.topology import MACHINES, Operation

# Well under API Gateway's 10 MB and Lambda's 6 MB synchronous payload (base64 adds a third);
# Big Fish, a feature film, is 0.2 MB.
MAX_BODY_BYTES = 2 * 1024 * 1024
IDEMPOTENCY_KEY = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
FAIL_AT_HEADER = "x-fountain-fail-at"
FAIL_MODE_HEADER = "x-fountain-fail-mode"
FAIL_ATTEMPTS_HEADER = "x-fountain-fail-attempts"
# A retried step is tried 7 times (the first attempt and six retries); more failures than this
# could ever be asked for is a mistake worth a 400, not a fault that is never acted out in full.
MAX_FAIL_ATTEMPTS = 100
IF_MATCH_HEADER = "if-match"
# The API's entity tags are the play's version, 1 and up, as GET sends them: "3". A weak tag
# (W/"3") names the same version, as no other representation of a version exists.
ENTITY_TAG = re.compile(r'^(?:W/)?"([1-9][0-9]{0,8})"$')
# The body is an object of two strings; these bound what a hostile document can make the parser
# do long before the interpreter's own limits (recursion, int() of 4,300 digits) are reached.
MAX_JSON_DEPTH = 32
MAX_JSON_NUMBER_CHARS = 100


class CreatePlayBody(BaseModel):
    """The JSON body of POST /plays, and of PUT /plays/{playId}."""

    model_config = ConfigDict(strict=True, extra="forbid")

    fountain: str = Field(min_length=1, description="the play, as Fountain text")
    title: str | None = Field(default=None, min_length=1, max_length=MAX_TITLE_CHARS)


def read_create_request(
    headers: dict[str, str], body: str | None, is_base64: bool, *, injection_allowed: bool
) -> PlayRequest:
    """Turn POST /plays into a PlayRequest, or raise the ApiError the client should see."""
    return read_play_request(
        headers, body, is_base64, injection_allowed=injection_allowed, operation="create"
    )


def read_play_request(
    headers: dict[str, str],
    body: str | None,
    is_base64: bool,
    *,
    injection_allowed: bool,
    operation: Operation,
) -> PlayRequest:
    """Turn a request carrying a play (a create's, or a revision's draft) into a PlayRequest, or
    raise the ApiError the client should see; a fault header must name a step of ``operation``."""
    lowered = lowered_headers(headers)
    raw = _body_bytes(body, is_base64)
    if len(raw) > MAX_BODY_BYTES:
        raise ApiError(
            413, "body_too_large", f"the body is {len(raw):,} bytes; the limit is {MAX_BODY_BYTES:,} bytes"
        )
    media_type, charset = _content_type(lowered.get("content-type", ""))
    if media_type not in ("application/json", "text/plain"):
        raise ApiError(
            415,
            "unsupported_media_type",
            f"Content-Type {media_type or '(none)'!r} is not accepted; send application/json "
            '({"fountain": "...", "title": "..."}) or text/plain (the Fountain text itself)',
        )
    if charset not in ("", "utf-8", "utf8"):
        raise ApiError(415, "unsupported_charset", f"charset {charset!r} is not accepted; send UTF-8")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ApiError(
            400,
            "invalid_encoding",
            f"the body is not valid UTF-8 (byte {error.start} is 0x{raw[error.start]:02x})",
        ) from None
    if media_type == "application/json":
        fountain, title = _json_play(text)
    else:
        fountain, title = text, None
    if not fountain.strip():
        raise ApiError(400, "empty_play", "the Fountain text is empty")
    return PlayRequest(
        text=fountain,
        title=title,
        idempotency_key=read_idempotency_key(lowered),
        fault=read_fault(lowered, injection_allowed, operation),
    )


def lowered_headers(headers: dict[str, str]) -> dict[str, str]:
    return {k.lower(): v for k, v in headers.items()}


def _body_bytes(body: str | None, is_base64: bool) -> bytes:
    if body is None:
        return b""
    if not is_base64:
        return body.encode("utf-8", errors="surrogateescape")
    try:
        return base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError):
        raise ApiError(400, "invalid_body", "the body is not valid base64") from None


def _content_type(value: str) -> tuple[str, str]:
    media_type, _, params = value.partition(";")
    charset = ""
    for param in params.split(";"):
        key, _, val = param.strip().partition("=")
        if key.lower() == "charset":
            charset = val.strip().strip('"').lower()
    return media_type.strip().lower(), charset


class _Refused(ValueError):
    """What the parser met that this API does not read, with the error code to answer."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def _number(text: str) -> float | int:
    # Called with the number's text before Python converts it: int() refuses thousands of digits
    # with a ValueError of its own, and no field of the body is a number anyway.
    if len(text) > MAX_JSON_NUMBER_CHARS:
        raise _Refused(
            "invalid_body",
            f"the JSON body holds a number of {len(text):,} characters; the limit is {MAX_JSON_NUMBER_CHARS}",
        )
    return float(text) if any(c in text for c in ".eE") else int(text)


def _constant(name: str) -> Any:
    raise _Refused("malformed_json", f"the body is not valid JSON: {name} is not a JSON value")


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    document: dict[str, Any] = {}
    for key, value in pairs:
        if key in document:
            raise _Refused("invalid_body", f"the JSON body names {key[:64]!r} more than once")
        document[key] = value
    return document


def _depth(document: Any) -> int:
    deepest, pending = 0, [(document, 1)]
    while pending:
        value, depth = pending.pop()
        if isinstance(value, (dict, list)):
            deepest = max(deepest, depth)
            if depth <= MAX_JSON_DEPTH:
                children = value.values() if isinstance(value, dict) else value
                pending.extend((child, depth + 1) for child in children)
    return deepest


def load_json(text: str) -> Any:
    """The JSON document, or the ApiError to answer: malformed_json for what is not JSON,
    invalid_body for JSON past this API's limits (nesting, numbers, duplicate keys)."""
    too_deep = f"the JSON is nested more than {MAX_JSON_DEPTH} levels deep"
    try:
        document = json.loads(
            text, parse_int=_number, parse_float=_number, parse_constant=_constant, object_pairs_hook=_object
        )
    except json.JSONDecodeError as error:
        raise ApiError(
            400,
            "malformed_json",
            f"the body is not valid JSON: {error.msg} at line {error.lineno} column {error.colno}",
        ) from None
    except _Refused as error:
        raise ApiError(400, error.code, str(error)) from None
    except RecursionError:
        # json's C scanner stops at the interpreter's recursion limit, well past MAX_JSON_DEPTH.
        raise ApiError(400, "invalid_body", too_deep) from None
    if _depth(document) > MAX_JSON_DEPTH:
        raise ApiError(400, "invalid_body", too_deep)
    return document


def _json_play(text: str) -> tuple[str, str | None]:
    document = load_json(text)
    if not isinstance(document, dict):
        raise ApiError(
            400, "invalid_body", 'the JSON body must be an object: {"fountain": "...", "title": "..."}'
        )
    try:
        model = parse(event=document, model=CreatePlayBody)
    except ValidationError as error:
        raise ApiError(400, "invalid_body", _validation_message(error)) from None
    return model.fountain, model.title


def _validation_message(error: ValidationError) -> str:
    problems = []
    for issue in error.errors():
        field = ".".join(str(part) for part in issue["loc"]) or "body"
        kind = issue["type"]
        if kind == "missing":
            problems.append(f"{field!r} is required")
        elif kind == "extra_forbidden":
            problems.append(f"{field!r} is not a known field (fields: 'fountain', 'title')")
        elif kind == "string_type":
            problems.append(f"{field!r} must be a string")
        elif kind == "string_too_short":
            problems.append(f"{field!r} must not be empty")
        elif kind == "string_too_long":
            problems.append(f"{field!r} is longer than {issue.get('ctx', {}).get('max_length')} characters")
        else:
            problems.append(f"{field!r}: {issue['msg']}")
    return "; ".join(problems)


def read_idempotency_key(headers: dict[str, str]) -> str | None:
    """The Idempotency-Key of these (lower-cased) headers, if any."""
    key = headers.get("idempotency-key")
    if key is None:
        return None
    if not IDEMPOTENCY_KEY.match(key):
        raise ApiError(
            400,
            "invalid_idempotency_key",
            "Idempotency-Key must be 1 to 128 characters of A-Z, a-z, 0-9, '-' and '_'",
        )
    return key


def read_fault(headers: dict[str, str], injection_allowed: bool, operation: Operation) -> FaultPlan | None:
    """The fault these (lower-cased) headers ask a saga of ``operation`` to act out, if any."""
    step = headers.get(FAIL_AT_HEADER)
    if step is None:
        for header in (FAIL_MODE_HEADER, FAIL_ATTEMPTS_HEADER):
            if header in headers:
                raise ApiError(
                    400,
                    "invalid_fault",
                    f"{_header_name(header)} says how a step fails; "
                    "send X-Fountain-Fail-At with it to name the step",
                )
        return None
    if not injection_allowed:
        raise ApiError(
            400,
            "fault_injection_disabled",
            "fault injection is disabled in this deployment; remove the X-Fountain-Fail-At header",
        )
    steps = MACHINES[operation].steps
    if step not in steps:
        shown = step if len(step) <= 64 else step[:64] + "..."
        raise ApiError(
            400,
            "unknown_step",
            f"X-Fountain-Fail-At names no step of a {operation} saga: {shown!r}; "
            f"its steps are {', '.join(steps)}",
        )
    mode = headers.get(FAIL_MODE_HEADER, "partial")
    if mode not in FAULT_MODES:
        raise ApiError(
            400, "unknown_fault_mode", f"X-Fountain-Fail-Mode must be one of {', '.join(FAULT_MODES)}"
        )
    return FaultPlan(step=step, mode=mode, failures=_fail_attempts(headers.get(FAIL_ATTEMPTS_HEADER)))


def _fail_attempts(value: str | None) -> int | None:
    if value is None:
        return None
    # ASCII digits, bounded before int(), as for any number a client sends.
    text = value.strip()
    if (
        not (0 < len(text) <= 3 and text.isascii() and text.isdigit())
        or not 1 <= int(text) <= MAX_FAIL_ATTEMPTS
    ):
        raise ApiError(
            400,
            "invalid_fault",
            f"X-Fountain-Fail-Attempts must be a whole number from 1 to {MAX_FAIL_ATTEMPTS}: how many "
            "attempts of the step fail before one succeeds (leave it out for every attempt)",
        )
    return int(text)


def read_if_match(values: list[str]) -> int | None:
    """The version If-Match asks for, None for ``*`` or no If-Match; ``values`` are the header's
    values as sent (a client may send it more than once)."""
    if not values:
        return None
    tags = [tag.strip() for value in values for tag in value.split(",")]
    tags = [tag for tag in tags if tag]
    if not tags:
        raise ApiError(400, "invalid_if_match", f"If-Match is empty; {_IF_MATCH_FORM}")
    if len(tags) > 1:
        raise ApiError(
            400,
            "invalid_if_match",
            f"If-Match names {len(tags)} entity tags; send one, the ETag GET gave (or *)",
        )
    (tag,) = tags
    if tag == "*":
        return None
    match = ENTITY_TAG.match(tag)
    if match is None:
        shown = tag if len(tag) <= 40 else tag[:40] + "..."
        raise ApiError(400, "invalid_if_match", f"If-Match {shown!r} is not a version; {_IF_MATCH_FORM}")
    return int(match.group(1))


_IF_MATCH_FORM = (
    'send the ETag GET /plays/{playId} gave, quotes included ("3", or W/"3"), or * for any version'
)


def _header_name(lowered: str) -> str:
    return "-".join(part.capitalize() for part in lowered.split("-"))
