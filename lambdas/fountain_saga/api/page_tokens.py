"""Page tokens (``nextToken``): where the next page of a listing starts, signed so that only a
token this API issued is ever read.

A token is ``<payload>.<signature>``, both unpadded base64url: the payload is the DynamoDB key
the next query starts from, as compact JSON, and the signature an HMAC-SHA256 of the payload
and the listing it belongs to (the status filter, which picks the index the key is for). The
signature is checked before the payload is decoded, so a forged token, whatever it holds, is
refused without being parsed, and a token of one listing cannot be replayed against another.

The key is the deployment's (a Secrets Manager secret, read once per cold start); where none
is configured (the local server) it is random per process, so a token does not outlive the
process that issued it.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import hmac
import json
import os
import re
import secrets
from typing import Any

from fountain_saga.topology import PAGE_TOKEN_SECRET_ENV, aws_region

# A ledger key (play id, creation time, status, list key) takes about 200 characters; anything
# much longer was not issued here and is refused before any work is spent on it.
MAX_TOKEN_CHARS = 1024
_TOKEN = re.compile(r"^([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]{43})$")
_DOMAIN = b"fountain/page-token/v1"
_KEY_FIELDS = frozenset({"playId", "listKey", "status", "createdAt"})


class InvalidPageToken(ValueError):
    """The token was not issued by this API for this listing, or has been altered."""


def sign(start_key: dict[str, Any], listing: str, *, key: bytes | None = None) -> str:
    payload = _b64encode(json.dumps(start_key, separators=(",", ":"), sort_keys=True).encode())
    return f"{payload}.{_b64encode(_mac(key or signing_key(), listing, payload))}"


def read(token: str, listing: str, *, key: bytes | None = None) -> dict[str, Any]:
    """The start key a token stands for; raise InvalidPageToken for any token not issued here."""
    match = _TOKEN.match(token) if len(token) <= MAX_TOKEN_CHARS else None
    if match is None:
        raise InvalidPageToken("malformed")
    payload, signature = match.groups()
    if not hmac.compare_digest(_b64encode(_mac(key or signing_key(), listing, payload)), signature):
        raise InvalidPageToken("bad signature")
    try:
        start_key = json.loads(_b64decode(payload))
    except (binascii.Error, ValueError) as error:  # only if the key itself leaked
        raise InvalidPageToken("undecodable") from error
    if not _is_start_key(start_key):
        raise InvalidPageToken("not a start key")
    return dict(start_key)


def _is_start_key(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and "playId" in value
        and set(value) <= _KEY_FIELDS
        and all(
            isinstance(attr, dict) and set(attr) == {"S"} and isinstance(attr["S"], str)
            for attr in value.values()
        )
    )


def _mac(key: bytes, listing: str, payload: str) -> bytes:
    message = b"\0".join((_DOMAIN, listing.encode(), payload.encode()))
    return hmac.new(key, message, hashlib.sha256).digest()


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@functools.cache
def signing_key() -> bytes:
    """The deployment's key, fetched on first use and kept for the life of the process."""
    secret_arn = os.environ.get(PAGE_TOKEN_SECRET_ENV, "")
    if not secret_arn:
        return secrets.token_bytes(32)
    import boto3

    secret = boto3.client("secretsmanager", region_name=aws_region()).get_secret_value(SecretId=secret_arn)
    return hashlib.sha256(str(secret["SecretString"]).encode()).digest()
