"""The three sagas' state machines, generated from one description: statemachine/*.asl.json.

Create, revise and delete are built from the same few patterns: a Lambda step with its retries
and catch, the ledger write that records it, the Pass that names it when it fails, the parsing of
our handlers' error envelope, the compensation chain, the chain of steps retried until done and
its CLEANUP_PENDING end, and the announcement of the outcome with its owed-event fallback. Each
is written once here, the step lists come from the topology, and the files are checked in (the
deployment and the local runtime read them; a test fails when they are stale).

    make asl                                                             # rewrite the files
    PYTHONPATH=infra python -m fountain_infra.saga_definitions --check   # exit 1 if one is stale
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fountain_saga import topology

Json = dict[str, Any]

LAMBDA = "arn:aws:states:::lambda:invoke"
UPDATE_ITEM = "arn:aws:states:::dynamodb:updateItem"
PUT_EVENTS = "arn:aws:states:::events:putEvents"
LEDGER_TABLE = "${LedgerTableName}"
EVENT_BUS = "${EventBusName}"
START = "Route"
OWED = "RecordAnnouncementOwed"
# What Lambda, not the function, answers when it cannot run an invocation now.
LAMBDA_SERVICE_ERRORS = (
    "Lambda.TooManyRequestsException",
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
)


def _retrier(errors: Sequence[str], interval: int, attempts: int, max_delay: int) -> Json:
    return {
        "ErrorEquals": list(errors),
        "IntervalSeconds": interval,
        "MaxAttempts": attempts,
        "BackoffRate": 2,
        "MaxDelaySeconds": max_delay,
        "JitterStrategy": "FULL",
    }


def _now() -> Json:
    return {"S.$": "$$.State.EnteredTime"}


def _catch(result_path: str, next_state: str) -> Json:
    return {"ErrorEquals": ["States.ALL"], "ResultPath": result_path, "Next": next_state}


def _capitalized(field: str) -> str:
    return field[0].upper() + field[1:]


# --- Lambda steps ----------------------------------------------------------------------------


@dataclass(frozen=True)
class StepKind:
    """How a kind of Lambda step is retried, timed, recorded and failed."""

    timeout: str  # the input field holding its timeout, which the handler keeps too
    retry: tuple[int, int, int] | None  # (interval, attempts, max delay) for States.ALL; None: transients
    failure: str  # the field its catch fills, which names the envelope states it leads to
    recorded_as: str  # the step's status on the ledger when it succeeded
    comment: str
    record_comment: str
    failed_comment: str
    # A ledger write failing after a forward step fails the step (it is compensated); after a step
    # that is already undoing or finishing the saga, the saga goes on without the record.
    record_failure_fails_step: bool


FORWARD = StepKind(
    timeout="$.stepTimeoutSeconds",
    retry=None,
    failure="failure",
    recorded_as="SUCCEEDED",
    comment=(
        "Forward step: writes this service's rows for the play, idempotently. Lambda refusing the "
        "invocation (throttled, or failing itself) is waited out for minutes: a busy hour makes plays "
        "slower, not rolled back. The function's own failure, a timeout (Lambda.Unknown, or "
        "Sandbox.Timedout) included, would most likely happen again: it is compensated, not retried."
    ),
    record_comment="Ledger: the step succeeded.",
    failed_comment="Names the failed step for the ledger, the event and the Fail state.",
    record_failure_fails_step=True,
)
COMPENSATION = StepKind(
    timeout="$.compensationTimeoutSeconds",
    retry=(2, 4, 30),
    failure="compensationFailure",
    recorded_as="COMPENSATED",
    comment=(
        "Compensation: removes what the forward step wrote; nothing to undo is a success. Lambda's "
        "throttling and service errors are waited out first, so they do not use up the attempts kept "
        "for the compensation's own failures."
    ),
    record_comment="Ledger: the compensation ran.",
    failed_comment="Names the compensation that could not finish.",
    record_failure_fails_step=False,
)
# Past a pivot nothing is compensated: such a step is retried for a couple of minutes, and one
# still failing leaves the saga to be resumed (CLEANUP_PENDING) rather than undone.
UNTIL_DONE = StepKind(
    timeout="$.compensationTimeoutSeconds",
    retry=(2, 6, 60),
    failure="cleanupFailure",
    recorded_as="SUCCEEDED",
    comment=(
        "Past the pivot: the saga can no longer go back, so this step is never compensated; it is "
        "idempotent and retried with backoff. Lambda's throttling and service errors are waited out "
        "first. Still failing after its retries, it ends the saga CLEANUP_PENDING, for a resume to "
        "run it again."
    ),
    record_comment=(
        "Ledger: the step succeeded. A write that keeps failing does not hold the saga back: the step "
        "is done."
    ),
    failed_comment="Names the step that could not finish, for the ledger, the event and the Fail state.",
    record_failure_fails_step=False,
)


@dataclass(frozen=True)
class LedgerWrite:
    """A step's record when it writes more than the step's own entry."""

    comment: str
    sets: tuple[str, ...]
    names: Json
    values: Json  # besides :step and :now
    after: tuple[str, ...] = ()  # clauses after updatedAt


@dataclass(frozen=True)
class Step:
    state: str
    kind: StepKind
    function: str  # the topology's function: several states may run one (Delete<Kind>)
    source: str = "$"  # where the version and counts it works on are
    play: bool = False  # it reads the staged play (the claim check)
    previous: bool = False  # it needs the version a revision replaces
    comment: str | None = None
    record: LedgerWrite | None = None


def _lambda_task(step: Step) -> Json:
    kind = step.kind
    payload: Json = {"playId.$": "$.playId", "sagaId.$": "$.sagaId"}
    if step.play:
        payload["play.$"] = "$.play"
    payload["version.$"] = f"{step.source}.version"
    payload["counts.$"] = f"{step.source}.counts"
    if step.previous:
        payload["previous.$"] = "$.previous"
    payload |= {
        "fault.$": "$.fault",
        # Faults and logs name the state: one function serves several of them.
        "state.$": "$$.State.Name",
        "attempt.$": "$$.State.RetryCount",
        "stepTimeoutSeconds.$": kind.timeout,
    }
    own = (
        _retrier(["States.ALL"], *kind.retry)
        if kind.retry
        else _retrier(["TransientStoreError"], 1, 3, 10)  # a store's hiccup gets a few quick attempts
    )
    return {
        "Type": "Task",
        "Comment": step.comment or kind.comment,
        "Resource": LAMBDA,
        "Parameters": {
            "FunctionName": "${" + topology.function(step.function).placeholder + "}",
            "Payload": payload,
        },
        "ResultSelector": {"startedAt.$": "$$.State.EnteredTime", "rows.$": "$.Payload.rows"},
        "ResultPath": "$.step",
        "TimeoutSecondsPath": kind.timeout,
        "Retry": [_retrier(LAMBDA_SERVICE_ERRORS, 1, 23, 30), own],
        "Catch": [_catch(f"$.{kind.failure}", f"{step.state}Failed")],
        "Next": f"Record{step.state}",
    }


def _step_entry(status: str) -> Json:
    return {
        "M": {
            "status": {"S": status},
            "startedAt": {"S.$": "$.step.startedAt"},
            "endedAt": _now(),
            "rows": {"N.$": "States.Format('{}', $.step.rows)"},
        }
    }


def _record(step: Step, next_state: str) -> Json:
    kind = step.kind
    write = step.record or LedgerWrite(kind.record_comment, (), {}, {})
    catch = (
        _catch(f"$.{kind.failure}", f"{step.state}Failed")
        if kind.record_failure_fails_step
        else _catch("$.ledgerError", next_state)
    )
    return _ledger_update(
        write.comment,
        ", ".join(("SET steps.#step = :step", *write.sets, "updatedAt = :now", *write.after)),
        names={"#step": step.state, **write.names},
        values={":step": _step_entry(kind.recorded_as), **write.values, ":now": _now()},
        catch=catch,
        next_state=next_state,
    )


def _failed(step: Step) -> Json:
    field = step.kind.failure
    return {
        "Type": "Pass",
        "Comment": step.kind.failed_comment,
        "Parameters": {"step": step.state, "error.$": f"$.{field}.Error", "cause.$": f"$.{field}.Cause"},
        "ResultPath": f"$.{field}",
        "Next": f"Read{_capitalized(field)}",
    }


def _ledger_update(
    comment: str,
    expression: str,
    *,
    values: Json,
    next_state: str,
    names: Json | None = None,
    catch: Json | None = None,
) -> Json:
    parameters: Json = {
        "TableName": LEDGER_TABLE,
        "Key": {"playId": {"S.$": "$.playId"}},
        "UpdateExpression": expression,
    }
    if names:
        parameters["ExpressionAttributeNames"] = names
    parameters["ExpressionAttributeValues"] = values
    state: Json = {
        "Type": "Task",
        "Comment": comment,
        "Resource": UPDATE_ITEM,
        "Parameters": parameters,
        "ResultPath": None,
        "Retry": [_retrier(["States.TaskFailed"], 1, 5, 10)],
    }
    if catch:
        state["Catch"] = [catch]
    state["Next"] = next_state
    return state


# --- A machine under construction ------------------------------------------------------------


class Machine:
    def __init__(self, operation: topology.Operation, comment: str) -> None:
        self.operation = operation
        self.comment = comment
        self.states: dict[str, Json] = {}
        # (DetailType, the state its saga ends in), for the owed-announcement's way out.
        self.outcomes: list[tuple[str, str]] = []

    def add(self, name: str, state: Json) -> None:
        if name in self.states:
            raise ValueError(f"{self.operation}: two states named {name}")
        self.states[name] = state

    def chain(self, steps: Sequence[Step], then: str) -> None:
        """The steps in order, each with its record and its failure's Pass; the last leads to ``then``."""
        for step, following in zip(steps, [*[s.state for s in steps[1:]], then], strict=True):
            self.add(step.state, _lambda_task(step))
            self.add(f"Record{step.state}", _record(step, following))
            self.add(f"{step.state}Failed", _failed(step))

    def announce(self, name: str, detail_type: str, detail: Json, end: str) -> None:
        """Publish the outcome; an event the bus keeps refusing is owed on the ledger instead."""
        entry = {
            "EventBusName": EVENT_BUS,
            "Source": topology.EVENT_SOURCE,
            "DetailType": detail_type,
            "Detail": detail,
        }
        self.add(
            name,
            {
                "Type": "Task",
                "Comment": (
                    "The saga's outcome, published once the ledger has it. A failure here cannot undo "
                    "the saga: after its retries the event is recorded as owed, and the sweeper publishes it."
                ),
                "Resource": PUT_EVENTS,
                "Parameters": {"Entries": [entry]},
                "ResultPath": None,
                "Retry": [_retrier(["States.TaskFailed"], 1, 5, 10)],
                "Catch": [_catch("$.announcementError", f"Owe{detail_type}")],
                "Next": end,
            },
        )
        self.add(
            f"Owe{detail_type}",
            {
                "Type": "Pass",
                "Comment": (
                    f"The entry {name} could not send, composed the same way (tests/saga/test_definition.py "
                    "holds the two equal), for the ledger to keep until the sweeper publishes it."
                ),
                "Parameters": copy.deepcopy(entry),
                "ResultPath": "$.announcement",
                "Next": OWED,
            },
        )
        self.outcomes.append((detail_type, end))

    def read_envelope(self, field: str, subject: str, then: str) -> None:
        """Keep only the message of our handlers' error envelope in ``$.<field>``."""
        name = _capitalized(field)
        self.add(
            f"Read{name}",
            {
                "Type": "Choice",
                "Comment": (
                    f"{subject} raised by one of our handlers carries the Lambda error envelope as its "
                    "cause: keep only its message. Other errors (timeouts, Lambda's own) carry AWS's "
                    "message, without a stack trace."
                ),
                "Choices": [
                    {
                        "Or": [
                            {"Variable": f"$.{field}.error", "StringEquals": error}
                            for error in topology.HANDLER_ERRORS
                        ],
                        "Next": f"Parse{name}Cause",
                    }
                ],
                "Default": then,
            },
        )
        self.add(
            f"Parse{name}Cause",
            {
                "Type": "Pass",
                "Comment": "The envelope is JSON: errorType, errorMessage, stackTrace.",
                "Parameters": {
                    "step.$": f"$.{field}.step",
                    "error.$": f"$.{field}.error",
                    "cause.$": f"States.StringToJson($.{field}.cause)",
                },
                "ResultPath": f"$.{field}",
                "Next": f"Keep{name}Message",
            },
        )
        self.add(
            f"Keep{name}Message",
            {
                "Type": "Pass",
                "Comment": (
                    "The message was written for clients; the stack trace stays in the logs and the "
                    "execution history."
                ),
                "Parameters": {
                    "step.$": f"$.{field}.step",
                    "error.$": f"$.{field}.error",
                    "cause.$": f"$.{field}.cause.errorMessage",
                },
                "ResultPath": f"$.{field}",
                "Next": then,
            },
        )

    def document(self) -> Json:
        self.add(
            OWED,
            _ledger_update(
                "Ledger: the saga ended, but its event could not be published; the sweeper publishes "
                "this entry and clears the mark.",
                "SET announcement = :announcement, owes = :owes",
                values={
                    ":announcement": {
                        "M": {
                            "eventBusName": {"S.$": "$.announcement.EventBusName"},
                            "source": {"S.$": "$.announcement.Source"},
                            "detailType": {"S.$": "$.announcement.DetailType"},
                            "detail": {"S.$": "States.JsonToString($.announcement.Detail)"},
                            "resources": {"L": [{"S.$": "$$.StateMachine.Id"}, {"S.$": "$$.Execution.Id"}]},
                            "error": {"S.$": "$.announcementError.Error"},
                            "cause": {"S.$": "$.announcementError.Cause"},
                            "owedAt": _now(),
                        }
                    },
                    ":owes": {"S": "announcement"},
                },
                next_state="EndAsTheSagaEnded",
            ),
        )
        self.add(
            "EndAsTheSagaEnded",
            {
                "Type": "Choice",
                "Comment": "An unpublished event does not change how the saga ended.",
                "Choices": [
                    {"Variable": "$.announcement.DetailType", "StringEquals": detail_type, "Next": end}
                    for detail_type, end in self.outcomes
                ],
            },
        )
        return {"Comment": self.comment, "StartAt": START, "States": self.states}


# --- The patterns the sagas share ------------------------------------------------------------


def _route(comment: str, default: str, *, finish: tuple[str, str] | None, resume: str) -> Json:
    """A new saga goes to ``default``; a resume to ``resume``, or, told to finish, to the finish."""
    choices: list[Json] = []
    if finish:
        value, target = finish
        choices.append(
            {
                "And": [
                    {"Variable": "$.resume.finish", "IsPresent": True},
                    {"Variable": "$.resume.finish", "StringEquals": value},
                ],
                "Next": target,
            }
        )
    choices.append({"Variable": "$.resume", "IsPresent": True, "Next": resume})
    return {"Type": "Choice", "Comment": comment, "Choices": choices, "Default": default}


def _record_resume() -> Json:
    return _ledger_update(
        "Ledger: the compensation resumes (an operator fixed its cause, or the saga's execution was "
        "lost); this execution now carries it.",
        "SET #status = :compensating, failure = :failure, updatedAt = :now, resumedAt = :now, "
        "executionArn = :execution REMOVE compensationFailure, endedAt",
        names={"#status": "status"},
        values={
            ":compensating": {"S": "COMPENSATING"},
            ":failure": _failure_map("failure"),
            ":now": _now(),
            ":execution": {"S.$": "$$.Execution.Id"},
        },
        next_state="CompensateFrom",
    )


def _failure_map(field: str) -> Json:
    return {
        "M": {
            "step": {"S.$": f"$.{field}.step"},
            "error": {"S.$": f"$.{field}.error"},
            "cause": {"S.$": f"$.{field}.cause"},
        }
    }


def _failed_entry() -> Json:
    return {"M": {"status": {"S": "FAILED"}, "endedAt": _now()}}


def _current_version() -> Json:
    """The ledger's play fields, set to the version this saga wrote (the draft) and its counts."""
    return {
        ":version": {"N.$": "States.Format('{}', $.version)"},
        ":counts": {
            "M": {kind: {"N.$": f"States.Format('{{}}', $.counts.{kind})"} for kind in topology.ENTITY_TABLES}
        },
        ":title": {"S.$": "$.title"},
    }


def _rollback(machine: Machine, undone: Sequence[tuple[str, Step]], *, play_status: bool) -> None:
    """A failure before the pivot: recorded, then every compensation from the failed step's own
    down to the first step's, then the saga's end (rolled back, or a compensation failure)."""
    machine.read_envelope("failure", "A step failure", "RecordFailure")
    machine.add(
        "RecordFailure",
        _ledger_update(
            "Ledger: the saga is compensating; records the failed step and its error.",
            "SET #status = :compensating, failure = :failure, steps.#step = :failed, updatedAt = :now",
            names={"#status": "status", "#step.$": "$.failure.step"},
            values={
                ":compensating": {"S": "COMPENSATING"},
                ":failure": _failure_map("failure"),
                ":failed": _failed_entry(),
                ":now": _now(),
            },
            catch=_catch("$.ledgerError", "CompensateFrom"),
            next_state="CompensateFrom",
        ),
    )
    machine.add(
        "CompensateFrom",
        {
            "Type": "Choice",
            "Comment": (
                "Enter the compensation chain at the failed step's own compensation: it may have written "
                "part of its rows."
            ),
            "Choices": [
                {"Variable": "$.failure.step", "StringEquals": step, "Next": compensation.state}
                for step, compensation in reversed(undone)
            ],
            "Default": "RecordRolledBack",
        },
    )
    machine.chain([compensation for _, compensation in reversed(undone)], then="RecordRolledBack")
    # The play's own status follows only a saga that made the play: a revision that rolls back
    # leaves the play as it was.
    with_play = ", playStatus = :rolledBack" if play_status else ""
    machine.add(
        "RecordRolledBack",
        _ledger_update(
            "Ledger: every compensation ran; nothing of the play is left."
            if play_status
            else "Ledger: every compensation ran; nothing of the draft is left, and the play is as it was.",
            f"SET #status = :rolledBack{with_play}, updatedAt = :now, endedAt = :now",
            names={"#status": "status"},
            values={":rolledBack": {"S": "ROLLED_BACK"}, ":now": _now()},
            next_state="AnnouncePlayRolledBack",
        ),
    )
    machine.announce(
        "AnnouncePlayRolledBack",
        "PlayRolledBack",
        {
            "playId.$": "$.playId",
            "operation": machine.operation,
            "status": "ROLLED_BACK",
            "failure.$": "$.failure",
        },
        end="RolledBack",
    )
    machine.add(
        "RolledBack",
        {
            "Type": "Fail",
            "Comment": "Error and Cause name the failed step and its error.",
            "ErrorPath": "States.Format('{}.{}', $.failure.step, $.failure.error)",
            "CausePath": "$.failure.cause",
        },
    )
    machine.read_envelope("compensationFailure", "A compensation failure", "RecordCompensationFailure")
    with_play = ", playStatus = :failedStatus" if play_status else ""
    machine.add(
        "RecordCompensationFailure",
        _ledger_update(
            "Ledger: a compensation could not finish; an operator must act (see the README's runbook).",
            f"SET #status = :failedStatus{with_play}, compensationFailure = :cf, steps.#step = :failed, "
            "updatedAt = :now, endedAt = :now",
            names={"#status": "status", "#step.$": "$.compensationFailure.step"},
            values={
                ":failedStatus": {"S": "COMPENSATION_FAILED"},
                ":cf": _failure_map("compensationFailure"),
                ":now": _now(),
                ":failed": _failed_entry(),
            },
            catch=_catch("$.ledgerError", "AnnounceCompensationFailed"),
            next_state="AnnounceCompensationFailed",
        ),
    )
    machine.announce(
        "AnnounceCompensationFailed",
        "PlayCompensationFailed",
        {
            "playId.$": "$.playId",
            "operation": machine.operation,
            "status": "COMPENSATION_FAILED",
            "failure.$": "$.failure",
            "compensationFailure.$": "$.compensationFailure",
        },
        end="CompensationFailed",
    )
    machine.add(
        "CompensationFailed",
        {
            "Type": "Fail",
            "Comment": (
                "Loud on purpose: rows of this play may remain until an operator resumes the compensation."
            ),
            "ErrorPath": "States.Format('{}.{}', $.compensationFailure.step, $.compensationFailure.error)",
            "CausePath": "$.compensationFailure.cause",
        },
    )


def _cleanup_pending(machine: Machine) -> None:
    """A step past the pivot that still fails after its retries: the saga stops, to be resumed."""
    machine.read_envelope("cleanupFailure", "A failure of a step past the pivot", "RecordCleanupPending")
    machine.add(
        "RecordCleanupPending",
        _ledger_update(
            "Ledger: the saga cannot go back and could not finish; resuming it runs the step again "
            "(see the README's runbook).",
            "SET #status = :cleanupPending, cleanupFailure = :cf, steps.#step = :failed, "
            "updatedAt = :now, endedAt = :now",
            names={"#status": "status", "#step.$": "$.cleanupFailure.step"},
            values={
                ":cleanupPending": {"S": "CLEANUP_PENDING"},
                ":cf": _failure_map("cleanupFailure"),
                ":now": _now(),
                ":failed": _failed_entry(),
            },
            catch=_catch("$.ledgerError", "AnnounceCleanupPending"),
            next_state="AnnounceCleanupPending",
        ),
    )
    machine.announce(
        "AnnounceCleanupPending",
        "PlayCleanupPending",
        {"playId.$": "$.playId", "operation": machine.operation, "cleanupFailure.$": "$.cleanupFailure"},
        end="CleanupPending",
    )
    machine.add(
        "CleanupPending",
        {
            "Type": "Fail",
            "Comment": (
                "Loud on purpose: the saga is past its pivot, and rows it was deleting remain until it is "
                "resumed."
            ),
            "ErrorPath": "States.Format('{}.{}', $.cleanupFailure.step, $.cleanupFailure.error)",
            "CausePath": "$.cleanupFailure.cause",
        },
    )


def _undo(compensation: str, **options: Any) -> Step:
    return Step(compensation, COMPENSATION, compensation, **options)


def _completed() -> Json:
    return {":completed": {"S": "COMPLETED"}}


_PLAY_COMPLETE = LedgerWrite(
    "Ledger: the play is complete.",
    ("#status = :completed", "playStatus = :completed"),
    {"#status": "status"},
    _completed(),
    after=("completedAt = :now",),
)


# --- The three sagas -------------------------------------------------------------------------


def create_play() -> Json:
    machine = Machine(
        "create",
        "Create a play: an orchestrated saga over six entity services. Each forward step's failure enters "
        "the compensation chain at its own compensation, which then runs in reverse order down to "
        "DeleteScript. The input carries a claim check (the staged play's S3 prefix), never the play, and "
        "the saga's id (the one the ledger records: every row is stamped with it, and the semantic lock is "
        "checked against it). A saga that did not end on its own is resumed by starting an execution with "
        'a "resume" field: it re-enters the chain, every compensation being idempotent, or, when the play '
        'had already been published ("finish": "publish"), records the play complete.',
    )
    steps = [
        Step(s, FORWARD, s, play=True, record=_PLAY_COMPLETE if s == topology.FORWARD_STEPS[-1] else None)
        for s in topology.FORWARD_STEPS
    ]
    published = steps[-1].state
    machine.add(
        START,
        _route(
            "A new play starts at CreateScript. A resume (an operator's, or a recovery of an interrupted "
            "saga) re-enters the compensation chain, or, when its play had already been published, "
            "finishes it.",
            steps[0].state,
            finish=("publish", "RecordRecoveredPublish"),
            resume="RecordResume",
        ),
    )
    machine.add("RecordResume", _record_resume())
    machine.add(
        "RecordRecoveredPublish",
        _ledger_update(
            "Ledger: the play had been published when its execution was lost, so every step had succeeded; "
            "the saga completes as it would have, with its counts and its event.",
            "SET steps.#step = :step, #status = :completed, playStatus = :completed, updatedAt = :now, "
            "completedAt = :now, resumedAt = :now, executionArn = :execution",
            names={"#step": published, "#status": "status"},
            values={
                ":step": {"M": {"status": {"S": "SUCCEEDED"}, "endedAt": _now(), "rows": {"N": "1"}}},
                **_completed(),
                ":now": _now(),
                ":execution": {"S.$": "$$.Execution.Id"},
            },
            next_state="AnnouncePlayCreated",
        ),
    )
    machine.chain(steps, then="AnnouncePlayCreated")
    machine.announce(
        "AnnouncePlayCreated",
        "PlayCreated",
        {"playId.$": "$.playId", "status": "COMPLETED", "counts.$": "$.counts"},
        end="PlayCreated",
    )
    machine.add("PlayCreated", {"Type": "Succeed"})
    undone = [(s.state, _undo(topology.COMPENSATIONS[s.state])) for s in steps]
    _rollback(machine, undone, play_status=True)
    return machine.document()


def revise_play() -> Json:
    machine = Machine(
        "revise",
        "Revise a play: writes the draft version's rows beside the current version's (the Create steps, "
        "compensated as a creation's are), then the pivot, SwitchVersion, makes the draft the play's current "
        "version. Past the pivot the saga only goes forward: each CleanUp step deletes the previous "
        "version's rows with its service's Delete function, retried until done; one still failing ends the "
        "saga CLEANUP_PENDING. A resume re-enters the compensation chain, or, when the pivot had happened "
        '("finish": "cleanup"), finishes the clean-up.',
    )
    pivot_at = topology.REVISE_STEPS.index(topology.REVISE_PIVOT)
    drafts = [Step(s, FORWARD, s, play=True) for s in topology.REVISE_STEPS[:pivot_at]]
    pivot = Step(
        topology.REVISE_PIVOT,
        FORWARD,
        topology.REVISE_PIVOT,
        previous=True,
        comment=(
            "The pivot: makes the draft the play's current version, only if the current one is still the "
            "version this revision was based on. Lambda refusing the invocation is waited out; any other "
            f"failure, a lost response included, is compensated by {topology.REVISE_PIVOT_COMPENSATION}, "
            "which undoes the switch only if this saga made it."
        ),
        record=LedgerWrite(
            "Ledger: the draft is the play now; the play's version, counts and title are the draft's.",
            ("version = :version", "counts = :counts", "title = :title"),
            {},
            _current_version(),
        ),
    )
    cleanups = [
        Step(s, UNTIL_DONE, topology.CLEANUP_STEPS[s], source="$.previous")
        for s in topology.REVISE_STEPS[pivot_at + 1 :]
    ]
    machine.add(
        START,
        _route(
            "A new revision starts writing its draft at CreateScript. A resume re-enters the compensation "
            'chain, or, when the pivot had already happened ("finish": "cleanup"), goes on deleting the '
            "previous version: past the pivot the saga can only go forward.",
            drafts[0].state,
            finish=("cleanup", "RecordResumedCleanup"),
            resume="RecordResume",
        ),
    )
    machine.add("RecordResume", _record_resume())
    machine.add(
        "RecordResumedCleanup",
        _ledger_update(
            "Ledger: the pivot had happened when the saga stopped (its execution lost, or a clean-up step "
            "failing); this execution finishes the clean-up, and the play is the draft.",
            "SET #status = :running, playStatus = :completed, version = :version, counts = :counts, "
            "title = :title, steps.#step = :step, updatedAt = :now, resumedAt = :now, "
            "executionArn = :execution REMOVE cleanupFailure, endedAt",
            names={"#status": "status", "#step": pivot.state},
            values={
                ":running": {"S": "RUNNING"},
                **_completed(),
                **_current_version(),
                ":step": {"M": {"status": {"S": "SUCCEEDED"}, "endedAt": _now()}},
                ":now": _now(),
                ":execution": {"S.$": "$$.Execution.Id"},
            },
            next_state=cleanups[0].state,
        ),
    )
    machine.chain([*drafts, pivot], then=cleanups[0].state)
    machine.chain(cleanups, then="RecordRevised")
    machine.add(
        "RecordRevised",
        _ledger_update(
            "Ledger: the revision is complete: the draft is the play, and the previous version's rows "
            "are gone.",
            "SET #status = :completed, updatedAt = :now, completedAt = :now, endedAt = :now",
            names={"#status": "status"},
            values={**_completed(), ":now": _now()},
            next_state="AnnouncePlayRevised",
        ),
    )
    machine.announce(
        "AnnouncePlayRevised",
        "PlayRevised",
        {"playId.$": "$.playId", "version.$": "$.version", "counts.$": "$.counts"},
        end="PlayRevised",
    )
    machine.add("PlayRevised", {"Type": "Succeed"})
    undone = [(s.state, _undo(topology.COMPENSATIONS[s.state])) for s in drafts]
    undone.append(
        (
            pivot.state,
            _undo(
                topology.REVISE_PIVOT_COMPENSATION,
                previous=True,
                comment=(
                    "Compensation: puts the previous version back as the play's current one if this saga "
                    "had switched it, and does nothing otherwise. Lambda's throttling and service errors "
                    "are waited out first, so they do not use up the attempts kept for its own failures."
                ),
            ),
        )
    )
    _rollback(machine, undone, play_status=False)
    _cleanup_pending(machine)
    return machine.document()


def delete_play() -> Json:
    machine = Machine(
        "delete",
        "Delete a play: MarkDeleting is the pivot (readers get 410 Gone from then on), then each service "
        "deletes the play's rows of the version being deleted, and ForgetPlay removes the play's head. "
        "Nothing is compensated: every step is idempotent and retried until done, and one still failing "
        "ends the saga CLEANUP_PENDING. A resume, whatever it says, starts again at MarkDeleting.",
    )
    steps = [Step(s, UNTIL_DONE, s) for s in topology.DELETE_STEPS]
    machine.add(
        START,
        _route(
            "A new deletion starts at MarkDeleting; so does a resume, once the ledger points at this "
            "execution: every step is idempotent, so running the done ones again is harmless.",
            steps[0].state,
            finish=None,
            resume="RecordResumedDelete",
        ),
    )
    machine.add(
        "RecordResumedDelete",
        _ledger_update(
            "Ledger: the deletion resumes (its execution was lost, or a step kept failing); this "
            "execution now carries it.",
            "SET #status = :running, playStatus = :deleting, updatedAt = :now, resumedAt = :now, "
            "executionArn = :execution REMOVE cleanupFailure, endedAt",
            names={"#status": "status"},
            values={
                ":running": {"S": "RUNNING"},
                ":deleting": {"S": "DELETING"},
                ":now": _now(),
                ":execution": {"S.$": "$$.Execution.Id"},
            },
            next_state=steps[0].state,
        ),
    )
    machine.chain(steps, then="RecordDeleted")
    machine.add(
        "RecordDeleted",
        _ledger_update(
            "Ledger: the play is deleted; this item is all that remains of it.",
            "SET #status = :completed, playStatus = :deleted, updatedAt = :now, completedAt = :now, "
            "endedAt = :now",
            names={"#status": "status"},
            values={**_completed(), ":deleted": {"S": "DELETED"}, ":now": _now()},
            next_state="AnnouncePlayDeleted",
        ),
    )
    machine.announce(
        "AnnouncePlayDeleted",
        "PlayDeleted",
        {"playId.$": "$.playId", "version.$": "$.version"},
        end="PlayDeleted",
    )
    machine.add("PlayDeleted", {"Type": "Succeed"})
    _cleanup_pending(machine)
    return machine.document()


BUILDERS = {"create": create_play, "revise": revise_play, "delete": delete_play}


def documents() -> dict[topology.Operation, Json]:
    return {operation: BUILDERS[operation]() for operation in topology.MACHINES}


def render(document: Json) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def stale_files(directory: Path = topology.STATE_MACHINE_DIR) -> list[Path]:
    """The ASL files in ``directory`` that differ from what this module generates (or are missing)."""
    stale = []
    for operation, document in documents().items():
        path = directory / topology.MACHINES[operation].file.name
        if not path.exists() or path.read_text(encoding="utf-8") != render(document):
            stale.append(path)
    return stale


def write(directory: Path = topology.STATE_MACHINE_DIR) -> list[Path]:
    """Write the stale files; return them."""
    written = stale_files(directory)
    rendered = {topology.MACHINES[op].file.name: render(doc) for op, doc in documents().items()}
    for path in written:
        path.write_text(rendered[path.name], encoding="utf-8")
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report the files that are stale")
    parser.add_argument("--dir", type=Path, default=topology.STATE_MACHINE_DIR, help="where the files are")
    args = parser.parse_args(argv)
    if args.check:
        stale = stale_files(args.dir)
        for path in stale:
            print(f"{path}: stale; run `make asl`", file=sys.stderr)
        return 1 if stale else 0
    for path in write(args.dir):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
