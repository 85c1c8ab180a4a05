"""Cross-origin access for browser clients: which origins, and the headers every answer carries.

With a Lambda proxy integration API Gateway answers only the preflight (the OPTIONS mock CDK builds
from the same lists); every other answer reaches the browser with the headers the function wrote,
so without these a browser script could send a play but never read what became of it. API
Gateway's own errors (throttled, unsigned, too large) carry ``gateway_headers`` for the same reason.
"""

from __future__ import annotations

import os
from functools import cache
from typing import Any

from aws_lambda_powertools.event_handler.api_gateway import CORSConfig

from fountain_saga.topology import CORS_ORIGINS_ENV

# What a browser client sends: SigV4's headers and the API's own.
REQUEST_HEADERS = (
    "Content-Type",
    "Authorization",
    "X-Amz-Date",
    "X-Amz-Security-Token",
    "X-Amz-Content-Sha256",
    "Idempotency-Key",
    "If-Match",
    "X-Fountain-Fail-At",
    "X-Fountain-Fail-Mode",
    "X-Fountain-Fail-Attempts",
)
METHODS = ("GET", "POST", "PUT", "DELETE", "OPTIONS")
# What a script may read of an answer: where a started saga is followed, the version If-Match sends
# back, and when to come back after a 429.
EXPOSED_HEADERS = ("Location", "ETag", "Retry-After")


class InvalidOrigins(ValueError):
    """The configured origins cannot be used; the message says why."""


def parse_origins(value: Any) -> tuple[str, ...]:
    """Origins as configured (comma-separated, or a list); ``*`` is refused: with SigV4 and any
    origin allowed, any site a signed-in user visits could drive the API with their credentials."""
    if not value:
        return ()
    items = value.split(",") if isinstance(value, str) else list(value)
    origins = tuple(str(item).strip().rstrip("/") for item in items if str(item).strip())
    if "*" in origins:
        raise InvalidOrigins("must name origins; '*' would let any site call the API")
    for origin in origins:
        scheme, _, host = origin.partition("://")
        if scheme not in ("http", "https") or not host or "/" in host:
            raise InvalidOrigins(
                f"{origin!r} is not an origin: write scheme://host[:port] (https://a.example)"
            )
    return origins


def configured_origins() -> tuple[str, ...]:
    return parse_origins(os.environ.get(CORS_ORIGINS_ENV, ""))


@cache
def _config(origins: tuple[str, ...]) -> CORSConfig:
    return CORSConfig(
        allow_origin=origins[0],
        extra_origins=list(origins[1:]),
        allow_headers=list(REQUEST_HEADERS),
        expose_headers=list(EXPOSED_HEADERS),
    )


def answer_headers(request_headers: dict[str, Any] | None, origins: tuple[str, ...]) -> dict[str, str]:
    """What an answer of the function adds for the request's Origin: the CORS headers when it is
    one of ``origins``, and ``Vary: Origin`` whenever CORS is on (the answer depends on it)."""
    if not origins:
        return {}
    given = {str(name).lower(): value for name, value in (request_headers or {}).items()}
    origin = given.get("origin")
    allowed = _config(origins).allowed_origin(origin) if isinstance(origin, str) else None
    headers = _config(origins).to_dict(allowed) if allowed else {}
    # Allow-Headers is the preflight's to say; on an answer it is noise.
    headers.pop("Access-Control-Allow-Headers", None)
    return {**headers, "Vary": "Origin"}


def gateway_headers(origins: tuple[str, ...]) -> dict[str, str]:
    """What API Gateway's own answers carry: a gateway response's headers are fixed values, so they
    name the first origin; a browser on another listed origin sees those errors as network errors."""
    if not origins:
        return {}
    return {
        "Access-Control-Allow-Origin": origins[0],
        "Access-Control-Expose-Headers": ",".join(EXPOSED_HEADERS),
        "Vary": "Origin",
    }


def preflight_headers(request_origin: str | None, origins: tuple[str, ...]) -> dict[str, str]:
    """What the preflight mock CDK builds from these lists answers: the request's origin when listed,
    else the first (which the browser then refuses)."""
    origin = request_origin if request_origin in origins else origins[0]
    return {
        "Access-Control-Allow-Headers": ",".join(REQUEST_HEADERS),
        "Access-Control-Allow-Origin": origin,
        "Vary": "Origin",
        "Access-Control-Allow-Methods": ",".join(METHODS),
        "Access-Control-Expose-Headers": ",".join(EXPOSED_HEADERS),
    }
