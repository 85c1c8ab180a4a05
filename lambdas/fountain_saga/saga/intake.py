"""Starting a play: parse, open the ledger entry, stage the play, start the saga.

Used by the API handler and by the local CLI alike. Every step is safe to repeat: the ledger
entry is written conditionally and doubles as the idempotency record, the staged objects are
content-addressed, and the execution name is derived from the play id, so a retried request
can neither start a second saga nor change the play a saga is creating.
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from typing import Any

import boto3

from fountain_saga.entities.storable import check_storable
from fountain_saga.play.document import PlayDocument
from fountain_saga.play.fountain_import import parse_play
from fountain_saga.saga import idempotency, ledger
from fountain_saga.saga.claim_check import encode_records, stage_play
from fountain_saga.saga.faults import FaultPlan, injection_enabled
from fountain_saga.saga.idempotency import IdempotencyConflict
from fountain_saga.topology import (
    STATE_MACHINE_ARN_ENV,
    STEP_TIMEOUT_ENV,
    Operation,
    compensation_timeout_seconds,
    step_timeout_seconds,
)

__all__ = ["IdempotencyConflict", "PlayRequest", "PreparedPlay", "StartedPlay", "prepare_play", "start_play"]

# The one caller of a local runtime, and of any process that starts plays without a request.
LOCAL_PRINCIPAL = "local"


class FaultInjectionDisabled(Exception):
    """A request asked for a fault where this deployment does not allow injecting one."""


@dataclass(frozen=True)
class PreparedPlay:
    """A text parsed and checked to fit the tables: what the intake stages."""

    document: PlayDocument
    payloads: dict[str, bytes]  # each entity kind's staged records, as JSON


def prepare_play(text: str, title: str | None = None) -> PreparedPlay:
    """Parse the text and check every row fits; raise PlayRejected (or PlayTooLarge) if not."""
    document = parse_play(text, title)
    check_storable(document)
    return PreparedPlay(document, encode_records(document))


@dataclass(frozen=True)
class PlayRequest:
    text: str
    title: str | None = None
    idempotency_key: str | None = None
    fault: FaultPlan | None = None
    # Who asks: idempotency keys are each caller's own (the IAM principal on AWS).
    principal: str = LOCAL_PRINCIPAL
    # The same text and title already prepared (the CLI checks a file before starting anything).
    prepared: PreparedPlay | None = field(default=None, compare=False, repr=False)

    def digest(self) -> str:
        canonical = json.dumps(
            {"text": self.text, "title": self.title, "fault": self.fault.to_event() if self.fault else None},
            sort_keys=True,
        )
        return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True)
class StartedPlay:
    play_id: str
    execution_arn: str
    status: str
    title: str
    counts: dict[str, int]
    replayed: bool


@cache
def sfn_client() -> Any:
    return boto3.client("stepfunctions")


def play_id_for(request: PlayRequest) -> str:
    """A new random play id, or the one this caller's Idempotency-Key already stands for."""
    if request.idempotency_key is None:
        return uuid.uuid4().hex
    return idempotency.claim(request.principal, request.idempotency_key, request.digest()).play_id


def execution_name(play_id: str) -> str:
    return f"create-{play_id}"


def execution_arn(state_machine_arn: str, name: str) -> str:
    return state_machine_arn.replace(":stateMachine:", ":execution:", 1) + f":{name}"


def now_iso() -> str:
    return ledger.timestamp(datetime.now(UTC))


def start_play(request: PlayRequest, *, state_machine_arn: str | None = None) -> StartedPlay:
    """Start the create-play saga; raise PlayRejected, IdempotencyConflict or FaultInjectionDisabled.

    A play that could not be stored (PlayTooLarge, a PlayRejected) is refused here, before any
    ledger entry, staged object or execution exists.
    """
    if request.fault is not None and not injection_enabled():
        raise FaultInjectionDisabled(
            "fault injection is disabled in this deployment; remove the X-Fountain-Fail-At header"
        )
    prepared = request.prepared or prepare_play(request.text, request.title)
    play = prepared.document
    state_machine_arn = state_machine_arn or os.environ[STATE_MACHINE_ARN_ENV]
    play_id = play_id_for(request)
    name = execution_name(play_id)
    arn = execution_arn(state_machine_arn, name)
    created_at = now_iso()
    counts = entity_counts(play)
    entry = ledger.LedgerRow(
        play_id=play_id,
        saga_id=name,
        status="RUNNING",
        play_status="RUNNING",
        list_key=ledger.LIST_KEY,
        version=1,
        saga_no=1,
        operation="create",
        title=play.script.title,
        created_at=created_at,
        started_at=created_at,
        updated_at=created_at,
        request_hash=request.digest(),
        execution_arn=arn,
        play_prefix="",
        counts=counts,
        steps={},
        injected_fault=request.fault.to_event() if request.fault else None,
    )
    try:
        entry, created = ledger.open_entry(entry)
    except ledger.LedgerConflict as conflict:
        # Only a retry of this very request reaches an existing entry (play ids are random or
        # claimed per caller); a different request here is a bug, and says nothing of the play.
        raise IdempotencyConflict(
            "this Idempotency-Key was already used with a different request; use a new key for a new play"
        ) from conflict
    if not created and entry.play_prefix:
        return StartedPlay(play_id, arn, entry.status, entry.title, counts, replayed=True)
    ref = stage_play(play, play_id, payloads=prepared.payloads)
    saga_input = {
        **execution_input(play_id, entry.saga_id, "create", 1, counts, play.script.title, request.fault),
        "play": ref.to_event(),
    }
    start_execution(state_machine_arn, name, arn, json.dumps(saga_input))
    entry.update(actions=[ledger.LedgerRow.play_prefix.set(ref.prefix)])
    return StartedPlay(play_id, arn, "RUNNING", play.script.title, counts, replayed=not created)


def execution_input(  # noqa: PLR0917 - the fields every saga's execution starts with, in order
    play_id: str,
    saga_id: str,
    operation: Operation,
    version: int,
    counts: dict[str, int],
    title: str,
    fault: FaultPlan | None,
) -> dict[str, Any]:
    """What every execution of every saga carries (a saga adds its claim check or its resume).

    ``saga_id`` is the id the ledger records and every row is stamped with: a resume carries it
    on, so the semantic lock is checked against the saga that took it, whichever execution runs.
    """
    return {
        "playId": play_id,
        "sagaId": saga_id,
        "operation": operation,
        "version": version,
        "counts": counts,
        "title": title,
        "fault": fault.to_event() if fault else None,
        **step_timeouts(),
    }


def step_timeout() -> int:
    """Seconds the state machine gives one step (the deployment sets it; see topology)."""
    return int(os.environ.get(STEP_TIMEOUT_ENV) or step_timeout_seconds())


def step_timeouts() -> dict[str, int]:
    """The timeouts every execution carries in its input: its forward steps' and its compensations'."""
    return {
        "stepTimeoutSeconds": step_timeout(),
        "compensationTimeoutSeconds": compensation_timeout_seconds(),
    }


def start_execution(state_machine_arn: str, name: str, arn: str, saga_input: str) -> None:
    sfn = sfn_client()
    try:
        sfn.start_execution(stateMachineArn=state_machine_arn, name=name, input=saga_input)
    except sfn.exceptions.ExecutionAlreadyExists as error:
        # A retry after a crash between starting and recording: the same input is no conflict.
        if json.loads(sfn.describe_execution(executionArn=arn)["input"]) != json.loads(saga_input):
            raise IdempotencyConflict(f"a saga named {name} already ran with another input") from error


def entity_counts(play: PlayDocument) -> dict[str, int]:
    return {"script": 1, **play.counts()}
