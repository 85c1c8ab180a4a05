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


def _json_play(text: str) -> tuple[str, str | None]:
    try:
        document: Any = json.loads(text)
    except json.JSONDecodeError as error:
        raise ApiError(
            400,
            "malformed_json",
            f"the body is not valid JSON: {error.msg} at line {error.lineno} column {error.colno}",
        ) from None
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
