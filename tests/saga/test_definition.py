"""The ASL file itself: valid, named as designed, and wired so every failure compensates fully."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from typing import Any

import pytest

from fountain_saga import topology
from tests.conftest import REPO

ASL_TEXT = topology.STATE_MACHINE_FILE.read_text()
ASL: dict[str, Any] = json.loads(ASL_TEXT)
STATES: dict[str, Any] = ASL["States"]


def test_the_definition_passes_asl_validator() -> None:
    validator = REPO / "node_modules" / ".bin" / "asl-validator"
    if not validator.exists():
        pytest.fail("node_modules is missing: run `make setup` (it runs npm ci)")
    node = shutil.which("node")
    assert node, "Node.js is required for asl-validator"
    result = subprocess.run(
        [str(validator), "--json-path", str(topology.STATE_MACHINE_FILE)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_placeholders_are_exactly_what_the_topology_substitutes() -> None:
    used = set(re.findall(r"\$\{([A-Za-z]+)\}", ASL_TEXT))
    provided = set(
        topology.state_machine_substitutions(
            {f.name: "arn" for f in topology.SAGA_FUNCTIONS}, {t.key: "t" for t in topology.TABLES}, "bus"
        )
    )
    assert used == provided


def _next(name: str) -> str | None:
    return STATES[name].get("Next")


def _follow_to_lambda(name: str) -> str:
    """From a state, walk Next/Choice to the next Lambda Task (the next saga step)."""
    seen = set()
    while name not in seen:
        seen.add(name)
        state = STATES[name]
        if state["Type"] == "Task" and state["Resource"] == "arn:aws:states:::lambda:invoke":
            return name
        if state["Type"] in ("Fail", "Succeed"):
            return name
        nxt = state.get("Next") or state.get("Default")
        assert nxt, f"{name} leads nowhere"
        name = nxt
    raise AssertionError(f"loop at {name}")


def test_a_new_play_starts_at_create_script_and_only_a_resume_enters_elsewhere() -> None:
    route = STATES[ASL["StartAt"]]
    assert route["Type"] == "Choice" and route["Default"] == "CreateScript"
    finish, resume = route["Choices"]
    # A resume of a saga whose play had been published records it complete; any other compensates.
    assert finish == {
        "And": [
            {"Variable": "$.resume.finish", "IsPresent": True},
            {"Variable": "$.resume.finish", "StringEquals": "publish"},
        ],
        "Next": "RecordRecoveredPublish",
    }
    assert resume == {"Variable": "$.resume", "IsPresent": True, "Next": "RecordResume"}
    assert STATES["RecordResume"]["Next"] == "CompensateFrom"
    assert STATES["RecordRecoveredPublish"]["Next"] == "AnnouncePlayCreated"
    assert STATES["AnnouncePlayCreated"]["Next"] == "PlayCreated"


@pytest.mark.parametrize("state", ["RecordResume", "RecordRecoveredPublish"])
def test_a_resume_points_the_ledger_at_its_own_execution(state: str) -> None:
    """So whoever looks for a stuck saga's execution next finds this one, not the one it replaced."""
    parameters = STATES[state]["Parameters"]
    assert "executionArn = :execution" in parameters["UpdateExpression"]
    assert parameters["ExpressionAttributeValues"][":execution"] == {"S.$": "$$.Execution.Id"}


def test_a_recovered_publish_completes_the_play_in_the_ledger() -> None:
    parameters = STATES["RecordRecoveredPublish"]["Parameters"]
    assert parameters["ExpressionAttributeNames"] == {"#step": "PublishPlay", "#status": "status"}
    assert parameters["ExpressionAttributeValues"][":completed"] == {"S": "COMPLETED"}
    assert parameters["ExpressionAttributeValues"][":step"]["M"]["status"] == {"S": "SUCCEEDED"}


def test_every_step_names_the_saga_the_ledger_records_not_the_execution_running_it() -> None:
    """A resume runs under another execution name; the rows and the script's lock carry the saga's id."""
    tasks = [s for s in STATES.values() if s.get("Resource") == "arn:aws:states:::lambda:invoke"]
    assert tasks
    for state in tasks:
        assert state["Parameters"]["Payload"]["sagaId.$"] == "$.sagaId"


def test_the_forward_chain_is_the_seven_steps_in_order() -> None:
    chain = []
    name = STATES[ASL["StartAt"]]["Default"]
    while STATES[name]["Type"] != "Succeed":
        if name in topology.FORWARD_STEPS:
            chain.append(name)
        name = _next(name)  # type: ignore[assignment]
    assert tuple(chain) == topology.FORWARD_STEPS


# What Lambda, not the function, answers when it cannot run an invocation now: waited out.
LAMBDA_SERVICE_ERRORS = [
    "Lambda.TooManyRequestsException",
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
]
# How long a throttled step or compensation may wait, in total, before the saga gives up on it.
LAMBDA_WAIT_BUDGET_SECONDS = 600


def retry_wait_bounds(retrier: dict[str, Any]) -> list[float]:
    """The longest wait before each retry a retrier allows: full jitter draws each from 0 up to it."""
    interval, rate = retrier["IntervalSeconds"], retrier.get("BackoffRate", 2.0)
    cap = retrier.get("MaxDelaySeconds", float("inf"))
    return [min(interval * rate**attempt, cap) for attempt in range(retrier["MaxAttempts"])]


def _lambda_task_names() -> list[str]:
    return [*topology.FORWARD_STEPS, *topology.COMPENSATIONS.values()]


@pytest.mark.parametrize("name", _lambda_task_names())
def test_every_lambda_task_waits_out_throttling_for_minutes_before_its_own_retries(name: str) -> None:
    """A busy hour makes slower plays, not rolled-back ones: throttles and Lambda's own errors are
    retried with jittered, capped backoff for up to ten minutes, and matched before the state's other
    retriers, so they never use up the attempts kept for the step's own failures."""
    wait_out = STATES[name]["Retry"][0]
    assert wait_out["ErrorEquals"] == LAMBDA_SERVICE_ERRORS
    assert wait_out["JitterStrategy"] == "FULL"
    bounds = retry_wait_bounds(wait_out)
    assert max(bounds) == wait_out["MaxDelaySeconds"] == 30
    assert 5 * 60 < sum(bounds) <= LAMBDA_WAIT_BUDGET_SECONDS
    assert wait_out["MaxAttempts"] >= 20
    # The same for every Lambda task.
    assert wait_out == STATES[topology.FORWARD_STEPS[0]]["Retry"][0]


@pytest.mark.parametrize("step", topology.FORWARD_STEPS)
def test_each_step_retries_transients_and_its_catch_enters_its_own_compensation(step: str) -> None:
    state = STATES[step]
    wait_out, transient = state["Retry"]
    assert wait_out["ErrorEquals"] == LAMBDA_SERVICE_ERRORS
    # A store's hiccup gets a few quick attempts of its own.
    assert transient["ErrorEquals"] == ["TransientStoreError"]
    assert transient["MaxAttempts"] == 3 and sum(retry_wait_bounds(transient)) <= 10
    # A function that timed out or crashed (Lambda.Unknown, or Sandbox.Timedout from newer runtimes)
    # would most likely do so again, holding a slot for minutes each time: it is compensated at once.
    retried = {e for r in state["Retry"] for e in r["ErrorEquals"]}
    assert not retried & {
        "Lambda.Unknown",
        "Sandbox.Timedout",
        "States.ALL",
        "States.TaskFailed",
        "States.Timeout",
    }
    (catch,) = state["Catch"]
    assert catch["ErrorEquals"] == ["States.ALL"] and catch["ResultPath"] == "$.failure"
    failed = STATES[catch["Next"]]
    assert failed["Parameters"]["step"] == step
    # The Choice routes by the failed step's name to that step's compensation.
    choice = STATES["CompensateFrom"]
    route = next(c["Next"] for c in choice["Choices"] if c["StringEquals"] == step)
    assert route == topology.COMPENSATIONS[step]


def test_compensations_run_in_reverse_order_down_to_delete_script_then_fail() -> None:
    chain = []
    name = topology.COMPENSATIONS["PublishPlay"]
    while STATES[name]["Type"] != "Fail":
        chain.append(name)
        name = _follow_to_lambda(STATES[name]["Next"])
    assert chain == [topology.COMPENSATIONS[s] for s in reversed(topology.FORWARD_STEPS)]
    assert name == "RolledBack"
    assert "$.failure.step" in STATES["RolledBack"]["ErrorPath"]


@pytest.mark.parametrize("compensation", list(topology.COMPENSATIONS.values()))
def test_compensations_retry_with_backoff_and_a_final_failure_is_loud(compensation: str) -> None:
    state = STATES[compensation]
    wait_out, retry = state["Retry"]
    assert wait_out["ErrorEquals"] == LAMBDA_SERVICE_ERRORS
    assert retry["ErrorEquals"] == ["States.ALL"]
    assert retry["BackoffRate"] > 1 and retry["MaxAttempts"] >= 3
    (catch,) = state["Catch"]
    # A compensation that keeps failing ends the saga in CompensationFailed, never in success.
    end = catch["Next"]
    visited = []
    while STATES[end]["Type"] not in ("Fail", "Succeed"):
        visited.append(end)
        end = STATES[end].get("Next") or STATES[end]["Default"]
    assert end == "CompensationFailed"
    assert "RecordCompensationFailure" in visited and "AnnounceCompensationFailed" in visited


def test_every_lambda_task_has_a_timeout_and_a_function_of_the_topology() -> None:
    names = {f.placeholder for f in topology.SAGA_FUNCTIONS}
    tasks = [s for s in STATES.values() if s.get("Resource") == "arn:aws:states:::lambda:invoke"]
    assert len(tasks) == len(topology.SAGA_FUNCTIONS)
    compensations = set(topology.COMPENSATIONS.values())
    for state_name, state in STATES.items():
        if state not in tasks:
            continue
        # The deployment sets both (topology), beyond every function's own timeout; a forward step's
        # may be shortened, a compensation's never is.
        timeout = "$.compensationTimeoutSeconds" if state_name in compensations else "$.stepTimeoutSeconds"
        assert state["TimeoutSecondsPath"] == timeout
        # The handler stops at the same deadline the state machine keeps.
        assert state["Parameters"]["Payload"]["stepTimeoutSeconds.$"] == timeout
        assert state["Parameters"]["FunctionName"].strip("${}") in names


def test_the_input_is_a_claim_check_not_the_play() -> None:
    payload = STATES["CreateDialogue"]["Parameters"]["Payload"]
    assert payload["play.$"] == "$.play"  # a reference: bucket and prefix
    assert set(payload) == {"playId.$", "sagaId.$", "play.$", "counts.$", "fault.$", "stepTimeoutSeconds.$"}
    compensation = STATES["DeleteDialogue"]["Parameters"]["Payload"]
    assert set(compensation) == {
        "playId.$",
        "sagaId.$",
        "counts.$",
        "fault.$",
        "attempt.$",
        "stepTimeoutSeconds.$",
    }
    assert compensation["attempt.$"] == "$$.State.RetryCount"


@pytest.mark.parametrize("field", ["failure", "compensationFailure"])
def test_a_failure_keeps_only_the_message_of_our_handlers_error_envelope(field: str) -> None:
    """What the ledger records and clients read holds no stack trace; AWS's own errors pass as they are."""
    name = field[0].upper() + field[1:]
    read = STATES[f"Read{name}"]
    (choice,) = read["Choices"]
    assert sorted(rule["StringEquals"] for rule in choice["Or"]) == sorted(topology.HANDLER_ERRORS)
    parse, keep = STATES[choice["Next"]], STATES[f"Keep{name}Message"]
    assert parse["Parameters"]["cause.$"] == f"States.StringToJson($.{field}.cause)"
    assert parse["Next"] == f"Keep{name}Message"
    assert keep["Parameters"]["cause.$"] == f"$.{field}.cause.errorMessage"
    assert keep["Next"] == read["Default"] == f"Record{name}"


def test_handlers_raise_only_the_errors_the_state_machine_reads() -> None:
    from fountain_saga.entities import handlers

    raised = {error.__name__ for error in handlers.CLIENT_SAFE_ERRORS} | {handlers.StepFailed.__name__}
    assert raised == set(topology.HANDLER_ERRORS)


ANNOUNCEMENTS = {
    "AnnouncePlayCreated": "PlayCreated",
    "AnnouncePlayRolledBack": "RolledBack",
    "AnnounceCompensationFailed": "CompensationFailed",
}


def test_every_event_the_saga_publishes_is_an_announcement_of_its_end() -> None:
    publishing = {n for n, s in STATES.items() if s.get("Resource") == "arn:aws:states:::events:putEvents"}
    assert publishing == set(ANNOUNCEMENTS)


@pytest.mark.parametrize(("announce", "end"), ANNOUNCEMENTS.items())
def test_an_announcement_that_keeps_failing_is_owed_on_the_ledger_and_the_saga_ends_as_it_did(
    announce: str, end: str
) -> None:
    """The ledger already holds the saga's outcome: a bus that refuses its event must not turn a
    finished saga into a failed execution."""
    from fountain_saga.saga.ledger import OWES_ANNOUNCEMENT

    state = STATES[announce]
    assert state["Next"] == end
    (retry,) = state["Retry"]
    assert retry["ErrorEquals"] == ["States.TaskFailed"] and retry["MaxAttempts"] >= 3
    assert retry["BackoffRate"] > 1 and retry["JitterStrategy"] == "FULL"
    (catch,) = state["Catch"]
    assert catch["ErrorEquals"] == ["States.ALL"] and catch["ResultPath"] == "$.announcementError"
    owe = STATES[catch["Next"]]
    # The ledger keeps exactly the entry the state would have sent: the sweeper publishes it as is.
    (entry,) = state["Parameters"]["Entries"]
    assert owe["Type"] == "Pass" and owe["Parameters"] == entry
    assert owe["ResultPath"] == "$.announcement"
    record = STATES[owe["Next"]]
    parameters = record["Parameters"]
    assert record["Resource"] == "arn:aws:states:::dynamodb:updateItem"
    assert parameters["UpdateExpression"] == "SET announcement = :announcement, owes = :owes"
    assert parameters["ExpressionAttributeValues"][":owes"] == {"S": OWES_ANNOUNCEMENT}
    mark = parameters["ExpressionAttributeValues"][":announcement"]["M"]
    assert mark["detail"] == {"S.$": "States.JsonToString($.announcement.Detail)"}
    assert mark["error"] == {"S.$": "$.announcementError.Error"}
    # Then the execution ends where the announcement would have led it.
    choice = STATES[record["Next"]]
    (route,) = [c for c in choice["Choices"] if c["StringEquals"] == entry["DetailType"]]
    assert route == {
        "Variable": "$.announcement.DetailType",
        "StringEquals": entry["DetailType"],
        "Next": end,
    }
