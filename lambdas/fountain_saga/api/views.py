"""What GET returns: a play's status, counts and saga steps, and pages of plays."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from fountain_saga.api.errors import ApiError
from fountain_saga.entities.reader import COUNTED_KINDS
from fountain_saga.saga import ledger
from fountain_saga.saga.ledger import LedgerRow

MAX_PAGE = 100
DEFAULT_PAGE = 20


def links(play_id: str) -> dict[str, str]:
    return {"self": f"/plays/{play_id}", "fountain": f"/plays/{play_id}/fountain"}


def play_view(row: LedgerRow) -> dict[str, Any]:
    failure = ledger.failure_of(row)
    saga: dict[str, Any] = {
        "status": row.status,
        "executionArn": row.execution_arn,
        "steps": [step.to_json() for step in ledger.step_views(row)],
        "failure": _failure_json(failure),
    }
    compensation_failure = ledger.compensation_failure_of(row)
    if compensation_failure:
        saga["compensationFailure"] = _failure_json(compensation_failure)
    return {
        "playId": row.play_id,
        "title": row.title,
        "status": row.status,
        "counts": ledger.recorded_counts(row, COUNTED_KINDS),
        "saga": saga,
        "createdAt": row.created_at,
        "updatedAt": row.updated_at,
        "links": links(row.play_id),
    }


def _failure_json(failure: dict[str, Any] | None) -> dict[str, Any] | None:
    if not failure:
        return None
    return {"step": failure.get("step"), "error": failure.get("error"), "cause": failure.get("cause")}


def summary_view(row: LedgerRow) -> dict[str, Any]:
    return {
        "playId": row.play_id,
        "title": row.title,
        "status": row.status,
        "createdAt": row.created_at,
        "updatedAt": row.updated_at,
        "links": links(row.play_id),
    }


def list_plays(status: str | None, limit_text: str | None, next_token: str | None) -> dict[str, Any]:
    """Plays, newest first, one page at a time."""
    if status is not None and status not in ledger.SAGA_STATUSES:
        raise ApiError(400, "invalid_status", f"status must be one of {', '.join(ledger.SAGA_STATUSES)}")
    limit = _limit(limit_text)
    start = _decode_token(next_token) if next_token else None
    if status is None:
        result = LedgerRow.by_created_at.query(
            ledger.LIST_KEY, scan_index_forward=False, limit=limit, last_evaluated_key=start
        )
    else:
        result = LedgerRow.by_status.query(
            status, scan_index_forward=False, limit=limit, last_evaluated_key=start
        )
    plays = [summary_view(row) for row in result]
    last = result.last_evaluated_key
    return {"plays": plays, "nextToken": _encode_token(last) if last and len(plays) == limit else None}


def _limit(text: str | None) -> int:
    if text is None:
        return DEFAULT_PAGE
    if not text.isdigit() or not 1 <= int(text) <= MAX_PAGE:
        raise ApiError(400, "invalid_limit", f"limit must be a whole number from 1 to {MAX_PAGE}")
    return int(text)


def _encode_token(key: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(key, separators=(",", ":")).encode()).decode().rstrip("=")


def _decode_token(token: str) -> dict[str, Any]:
    invalid = ApiError(
        400, "invalid_next_token", "nextToken is not one this API returned; start again without it"
    )
    try:
        key = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise invalid from None
    allowed = {"playId", "listKey", "status", "createdAt"}
    if not isinstance(key, dict) or not set(key) <= allowed or "playId" not in key:
        raise invalid
    for value in key.values():
        if not (isinstance(value, dict) and set(value) == {"S"} and isinstance(value["S"], str)):
            raise invalid
    return key
