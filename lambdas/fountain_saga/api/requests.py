"""Reading a POST /plays request: content type, size, encoding, JSON body and headers.

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
from fountain_saga.topology import FORWARD_STEPS

# Well under API Gateway's 10 MB and Lambda's 6 MB synchronous payload (base64 adds a third);
# Big Fish, a feature film, is 0.2 MB.
MAX_BODY_BYTES = 2 * 1024 * 1024
IDEMPOTENCY_KEY = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
FAIL_AT_HEADER = "x-fountain-fail-at"
FAIL_MODE_HEADER = "x-fountain-fail-mode"
# The body is an object of two strings; these bound what a hostile document can make the parser
# do long before the interpreter's own limits (recursion, int() of 4,300 digits) are reached.
MAX_JSON_DEPTH = 32
MAX_JSON_NUMBER_CHARS = 100


class CreatePlayBody(BaseModel):
    """The JSON body of POST /plays."""

    model_config = ConfigDict(strict=True, extra="forbid")

    fountain: str = Field(min_length=1, description="the play, as Fountain text")
    title: str | None = Field(default=None, min_length=1, max_length=MAX_TITLE_CHARS)


def read_create_request(
    headers: dict[str, str], body: str | None, is_base64: bool, *, injection_allowed: bool
) -> PlayRequest:
    """Turn the HTTP request into a PlayRequest, or raise the ApiError the client should see."""
    lowered = {k.lower(): v for k, v in headers.items()}
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
        idempotency_key=_idempotency_key(lowered),
        fault=_fault(lowered, injection_allowed),
    )


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


def _idempotency_key(headers: dict[str, str]) -> str | None:
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


def _fault(headers: dict[str, str], injection_allowed: bool) -> FaultPlan | None:
    step = headers.get(FAIL_AT_HEADER)
    if step is None:
        return None
    if not injection_allowed:
        raise ApiError(
            400,
            "fault_injection_disabled",
            "fault injection is disabled in this deployment; remove the X-Fountain-Fail-At header",
        )
    if step not in FORWARD_STEPS:
        raise ApiError(
            400,
            "unknown_step",
            f"X-Fountain-Fail-At names no step: {step!r}; the steps are {', '.join(FORWARD_STEPS)}",
        )
    mode = headers.get(FAIL_MODE_HEADER, "partial")
    if mode not in FAULT_MODES:
        raise ApiError(
            400, "unknown_fault_mode", f"X-Fountain-Fail-Mode must be one of {', '.join(FAULT_MODES)}"
        )
    return FaultPlan(step=step, mode=mode)
