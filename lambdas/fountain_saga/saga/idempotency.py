"""Idempotency keys kept as Stripe keeps them: each caller's own, for 24 hours, standing for a
play id that nobody can compute from the key.

A key is recorded, hashed together with the caller, with the random play id it was first used
for; a repeat within 24 hours gets that play back, and another caller's identical key is a
different record altogether. The record is written first, with one conditional PutItem, and
every later step of the intake is idempotent on the play id (the ledger's conditional put,
content-addressed staging, the execution named after the play), so a retry after a crash
carries on with the same play.

Powertools' Idempotency utility was the first candidate and does not fit: it replays a stored
response, and an invocation that died half-way leaves an INPROGRESS record which, once expired,
lets the retry run from the start, with a new random play id: a second saga for one key.
"""

from __future__ import annotations

import hashlib
import os
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from fountain_saga.entities.batch_store import dynamodb_client
from fountain_saga.saga.ledger import timestamp
from fountain_saga.topology import IDEMPOTENCY_TABLE

KEY_LIFETIME_SECONDS = 24 * 60 * 60
EXPIRES = IDEMPOTENCY_TABLE.ttl_attribute or "expiresAt"


class IdempotencyConflict(Exception):
    """The idempotency key was used before with a different request."""


@dataclass(frozen=True)
class Claim:
    play_id: str
    first_use: bool


def table_name() -> str:
    return os.environ.get(IDEMPOTENCY_TABLE.env_var, IDEMPOTENCY_TABLE.local_name)


def record_key(principal: str, key: str) -> str:
    # Hashed so the table holds no caller's raw key; the NUL keeps ("a", "bc") and ("ab", "c") apart.
    return hashlib.sha256(f"{principal}\0{key}".encode()).hexdigest()


def claim(
    principal: str, key: str, request_hash: str, *, now: float | None = None, client: Any = None
) -> Claim:
    """The play this caller's key stands for: a new random one, or the one it already names.

    Raise IdempotencyConflict when the key was used (by this caller, within 24 hours) for another
    request; the message names no play.
    """
    client = client or dynamodb_client()
    now = time.time() if now is None else now
    item_key = record_key(principal, key)
    for _ in range(2):  # a record that expires between the put and the read is claimed again
        play_id = uuid.uuid4().hex
        try:
            client.put_item(
                TableName=table_name(),
                Item={
                    "key": {"S": item_key},
                    "playId": {"S": play_id},
                    "requestHash": {"S": request_hash},
                    "createdAt": {"S": timestamp(datetime.fromtimestamp(now, UTC))},
                    EXPIRES: {"N": str(int(now) + KEY_LIFETIME_SECONDS)},
                },
                # DynamoDB deletes expired items only eventually: an expired record is no record.
                ConditionExpression="attribute_not_exists(#key) OR #expires < :now",
                ExpressionAttributeNames={"#key": "key", "#expires": EXPIRES},
                ExpressionAttributeValues={":now": {"N": str(int(now))}},
            )
            return Claim(play_id, first_use=True)
        except ClientError as error:
            if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
        found = client.get_item(TableName=table_name(), Key={"key": {"S": item_key}}, ConsistentRead=True)
        existing = found.get("Item")
        if existing is None or int(existing[EXPIRES]["N"]) < int(now):
            continue
        if existing["requestHash"]["S"] != request_hash:
            raise IdempotencyConflict(
                "this Idempotency-Key was used in the last 24 hours with a different request; "
                "use a new key for a new play"
            )
        return Claim(existing["playId"]["S"], first_use=False)
    raise IdempotencyConflict("this Idempotency-Key is being used by another request right now; retry")
