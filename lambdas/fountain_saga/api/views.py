"""What GET returns: a play's state, version and counts, its sagas and their steps, and pages of plays."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fountain_saga.api import page_tokens
from fountain_saga.api.errors import ApiError
from fountain_saga.entities.reader import COUNTED_KINDS
from fountain_saga.saga import ledger
from fountain_saga.saga.ledger import LedgerRow
from fountain_saga.topology import COMPENSATIONS, FORWARD_STEPS, SAGA_FUNCTIONS

MAX_PAGE = 100
DEFAULT_PAGE = 20
# The step of a deletion that removes each kind's rows: the function a create compensates with.
_DELETE_STEP = {f.service: COMPENSATIONS[f.name] for f in SAGA_FUNCTIONS if f.name in FORWARD_STEPS[:-1]}


def links(play_id: str, base: str = "") -> dict[str, str]:
    """Where the play, its text and its sagas are, under the path prefix the client called the API with."""
    play = f"{base}/plays/{play_id}"
    return {"self": play, "fountain": f"{play}/fountain", "sagas": f"{play}/sagas"}


def etag(version: int) -> str:
    """The entity tag of a version of a play, as GET sends it and If-Match takes it back."""
    return f'"{version}"'


def play_status_of(row: LedgerRow) -> str:
    """The play's state; an item written before plays had one holds only its create saga's status."""
    if row.play_status:
        return row.play_status
    return "RUNNING" if row.status in ledger.UNFINISHED_STATUSES else row.status


def timestamp(value: str | None) -> str | None:
    """Any ISO-8601 time as the API writes them all: UTC, milliseconds, "Z".

    The ledger is written that way by the intake and by Step Functions' $$.State.EnteredTime;
    this keeps responses in one format even for an item an older engine or a hand wrote.
    """
    if not value:
        return value
    try:
        return ledger.timestamp(datetime.fromisoformat(value))
    except ValueError:
        return value


def play_view(row: LedgerRow, base: str = "") -> dict[str, Any]:
    return {
        "playId": row.play_id,
        "title": row.title,
        "status": play_status_of(row),
        "version": int(row.version),
        "counts": play_counts(row),
        "saga": saga_view(row),
        "createdAt": timestamp(row.created_at),
        "updatedAt": timestamp(row.updated_at),
        "links": links(row.play_id, base),
    }


def saga_view(row: LedgerRow) -> dict[str, Any]:
    """One saga of a play (its latest, or one kept apart): what it did, step by step, and why it failed."""
    steps = []
    for step in ledger.step_views(row):
        shown = step.to_json()
        shown["startedAt"], shown["endedAt"] = timestamp(step.started_at), timestamp(step.ended_at)
        steps.append(shown)
    operation = row.operation or "create"
    draft = ledger.plain(row.draft)
    saga: dict[str, Any] = {
        "sagaId": row.saga_id,
        "operation": operation,
        "status": row.status,
        # What it writes (a create's 1, a revision's draft) or deletes.
        "version": int(draft.get("version") or row.version) if operation == "revise" else int(row.version),
        "startedAt": timestamp(row.started_at or row.created_at),
        "endedAt": timestamp(row.ended_at or row.completed_at),
        "steps": steps,
        "failure": _failure_json(ledger.failure_of(row)),
    }
    compensation_failure = ledger.compensation_failure_of(row)
    if compensation_failure:
        saga["compensationFailure"] = _failure_json(compensation_failure)
    cleanup_failure = ledger.cleanup_failure_of(row)
    if cleanup_failure:
        saga["cleanupFailure"] = _failure_json(cleanup_failure)
    return saga


def play_counts(row: LedgerRow) -> dict[str, int | None]:
    """The rows of each kind the play has now, from the ledger: no table is read."""
    if (row.operation or "create") == "create":
        return ledger.recorded_counts(row, COUNTED_KINDS)
    if play_status_of(row) == "DELETED":
        return dict.fromkeys(COUNTED_KINDS, 0)
    # The current version's, which a revision replaces at its pivot.
    counts = ledger.counts_of(row.counts)
    if row.operation == "delete":
        recorded = ledger.plain(row.steps)
        return {
            kind: 0
            if (recorded.get(_DELETE_STEP[kind]) or {}).get("status") == "SUCCEEDED"
            else counts.get(kind, 0)
            for kind in COUNTED_KINDS
        }
    return {kind: counts.get(kind, 0) for kind in COUNTED_KINDS}


def saga_history(
    row: LedgerRow, limit_text: str | None = None, next_token: str | None = None
) -> dict[str, Any]:
    """The play's sagas, newest first, one page at a time: a play revised thousands of times would
    otherwise answer more than Lambda may return (6 MB) after more reads than its 29 s allow."""
    limit = _limit(limit_text)
    # Saga numbers have no gaps, so a page starts at a number; signed for this play's listing, as
    # GET /plays's tokens are for theirs.
    listing = f"sagas={row.play_id}"
    newest = int(row.saga_no)
    if next_token:
        start = _start_key(next_token, listing)["playId"]["S"]
        newest = int(start.rpartition("#")[2])
    oldest = max(1, newest - limit + 1)
    sagas = ledger.saga_history(row.play_id, row, newest=newest, limit=limit)
    token = (
        page_tokens.sign({"playId": {"S": ledger.archive_key(row.play_id, oldest - 1)}}, listing)
        if oldest > 1
        else None
    )
    return {"playId": row.play_id, "sagas": [saga_view(saga) for saga in sagas], "nextToken": token}


def _failure_json(failure: dict[str, Any] | None) -> dict[str, Any] | None:
    if not failure:
        return None
    return {"step": failure.get("step"), "error": failure.get("error"), "cause": failure.get("cause")}


def summary_view(row: LedgerRow, base: str = "") -> dict[str, Any]:
    return {
        "playId": row.play_id,
        "title": row.title,
        "status": play_status_of(row),
        "version": int(row.version),
        "createdAt": timestamp(row.created_at),
        "updatedAt": timestamp(row.updated_at),
        "links": links(row.play_id, base),
    }


# Each query parameter GET /plays reads, with the error code of a bad value.
QUERY_PARAMETERS = {"status": "invalid_status", "limit": "invalid_limit", "nextToken": "invalid_next_token"}


def query_parameters(given: dict[str, list[str]]) -> dict[str, str]:
    """GET /plays's parameters, each at most once: which of two values was meant is not guessed."""
    params: dict[str, str] = {}
    for name, code in QUERY_PARAMETERS.items():
        values = given.get(name) or []
        if len(values) > 1:
            raise ApiError(400, code, f"{name} is given {len(values)} times; give it once")
        if values:
            params[name] = values[0]
    return params


def list_plays(
    status: str | None, limit_text: str | None, next_token: str | None, base: str = ""
) -> dict[str, Any]:
    """Plays, newest first, one page at a time."""
    if status is not None and status not in ledger.PLAY_STATUSES:
        raise ApiError(
            400, "invalid_status", f"status must be a play's status: one of {', '.join(ledger.PLAY_STATUSES)}"
        )
    limit = _limit(limit_text)
    # A token names a key of the index its listing reads (by the play's status, or all plays), so
    # it is signed for that listing and refused in another; "playStatus=" also refuses the tokens
    # of the listing by saga status this API had before plays had a status of their own.
    listing = f"playStatus={status}" if status else "status=*"
    start = _start_key(next_token, listing) if next_token else None
    if status is None:
        result = LedgerRow.by_created_at.query(
            ledger.LIST_KEY, scan_index_forward=False, limit=limit, last_evaluated_key=start
        )
    else:
        result = LedgerRow.by_play_status.query(
            status, scan_index_forward=False, limit=limit, last_evaluated_key=start
        )
    plays = [summary_view(row, base) for row in result]
    last = result.last_evaluated_key
    token = page_tokens.sign(last, listing) if last and len(plays) == limit else None
    return {"plays": plays, "nextToken": token}


def _limit(text: str | None) -> int:
    if text is None:
        return DEFAULT_PAGE
    # Bounded and ASCII before int(): "²" is a digit to str.isdigit, and int() of thousands of
    # digits is refused by Python itself, each a 500 had it got that far.
    if not (0 < len(text) <= 3 and text.isascii() and text.isdigit()) or not 1 <= int(text) <= MAX_PAGE:
        raise ApiError(400, "invalid_limit", f"limit must be a whole number from 1 to {MAX_PAGE}")
    return int(text)


def _start_key(token: str, listing: str) -> dict[str, Any]:
    try:
        return page_tokens.read(token, listing)
    except page_tokens.InvalidPageToken:
        raise ApiError(
            400,
            "invalid_next_token",
            "nextToken is not one this API issued for this listing; start the listing again without it",
        ) from None
