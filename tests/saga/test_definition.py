"""The ASL files themselves: valid, named as designed, and wired so that a failure before a saga's
pivot compensates fully and a failure after it can only go forward."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest

from fountain_saga import topology
from tests.conftest import REPO

ASL_TEXTS: dict[topology.Operation, str] = {op: m.file.read_text() for op, m in topology.MACHINES.items()}
ASLS: dict[topology.Operation, dict[str, Any]] = {op: json.loads(t) for op, t in ASL_TEXTS.items()}
ASL_TEXT = ASL_TEXTS["create"]
ASL: dict[str, Any] = ASLS["create"]
STATES: dict[str, Any] = ASL["States"]
REVISE: dict[str, Any] = ASLS["revise"]["States"]
DELETE: dict[str, Any] = ASLS["delete"]["States"]
LAMBDA = "arn:aws:states:::lambda:invoke"
UPDATE_ITEM = "arn:aws:states:::dynamodb:updateItem"
PUT_EVENTS = "arn:aws:states:::events:putEvents"
# How each machine ends: its Succeed state, then its Fail states.
ENDS: dict[topology.Operation, tuple[set[str], set[str]]] = {
    "create": ({"PlayCreated"}, {"RolledBack", "CompensationFailed"}),
    "revise": ({"PlayRevised"}, {"RolledBack", "CompensationFailed", "CleanupPending"}),
    "delete": ({"PlayDeleted"}, {"CleanupPending"}),
}
# The steps of each machine that are compensated when they fail, up to and including its pivot.
PIVOT = topology.REVISE_STEPS.index(topology.REVISE_PIVOT)
UNDONE: dict[topology.Operation, dict[str, str]] = {
    "create": topology.COMPENSATIONS,
    "revise": {
        **{s: topology.COMPENSATIONS[s] for s in topology.REVISE_STEPS[:PIVOT]},
        topology.REVISE_PIVOT: topology.REVISE_PIVOT_COMPENSATION,
    },
    "delete": {},
}
RETRIED_UNTIL_DONE: dict[topology.Operation, tuple[str, ...]] = {
    "create": (),
    "revise": topology.REVISE_STEPS[PIVOT + 1 :],
    "delete": topology.DELETE_STEPS,
}


def _targets(state: dict[str, Any]) -> Iterator[str]:
    for key in ("Next", "Default"):
        if key in state:
            yield state[key]
    yield from (rule["Next"] for rule in state.get("Choices", []))
    yield from (catch["Next"] for catch in state.get("Catch", []))


def _reachable(states: dict[str, Any], *starts: str) -> set[str]:
    seen: set[str] = set()
    todo = list(starts)
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo.extend(_targets(states[name]))
    return seen


def _lambda_tasks(states: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {n: s for n, s in states.items() if s.get("Resource") == LAMBDA}


def _compensations(states: dict[str, Any]) -> set[str]:
    return {
        n for n, s in _lambda_tasks(states).items() if s["Catch"][0]["ResultPath"] == "$.compensationFailure"
    }


@pytest.mark.parametrize("operation", topology.OPERATIONS)
def test_the_definition_passes_asl_validator(operation: topology.Operation) -> None:
    validator = REPO / "node_modules" / ".bin" / "asl-validator"
    if not validator.exists():
        pytest.fail("node_modules is missing: run `make setup` (it runs npm ci)")
    node = shutil.which("node")
    assert node, "Node.js is required for asl-validator"
    result = subprocess.run(
        [str(validator), "--json-path", str(topology.MACHINES[operation].file)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_placeholders_are_exactly_what_the_topology_substitutes() -> None:
    provided = set(
        topology.state_machine_substitutions(
            {f.name: "arn" for f in topology.SAGA_FUNCTIONS}, {t.key: "t" for t in topology.TABLES}, "bus"
        )
    )
    used = {op: set(re.findall(r"\$\{([A-Za-z]+)\}", text)) for op, text in ASL_TEXTS.items()}
    for names in used.values():
        assert names <= provided
        assert {"LedgerTableName", "EventBusName"} <= names
    # Every saga function serves some saga.
    assert set().union(*used.values()) == provided


@pytest.mark.parametrize("operation", topology.OPERATIONS)
def test_every_next_target_exists_and_every_state_is_reachable(operation: topology.Operation) -> None:
    asl = ASLS[operation]
    states = asl["States"]
    for name, state in states.items():
        for target in _targets(state):
            assert target in states, f"{name} leads to {target}, which is no state"
    assert _reachable(states, asl["StartAt"]) == set(states)


@pytest.mark.parametrize("operation", topology.OPERATIONS)
def test_each_machine_ends_in_its_own_succeed_and_fail_states(operation: topology.Operation) -> None:
    states = ASLS[operation]["States"]
    succeed, fail = ENDS[operation]
    assert {n for n, s in states.items() if s["Type"] == "Succeed"} == succeed
    assert {n for n, s in states.items() if s["Type"] == "Fail"} == fail
    for name in fail:
        # Error and Cause name the step that failed and its error.
        assert states[name]["ErrorPath"].startswith("States.Format('{}.{}', $.")
    assert not [n for n, s in states.items() if s.get("End")]


def _success_path(states: dict[str, Any], start: str) -> list[str]:
    """From a Choice's default, the states a saga in which nothing fails enters, in order."""
    path = [start]
    while states[path[-1]]["Type"] != "Succeed":
        state = states[path[-1]]
        path.append(state.get("Next") or state["Default"])
    return path


@pytest.mark.parametrize("operation", topology.OPERATIONS)
def test_the_success_path_runs_the_topologys_steps_each_recorded_then_announces(
    operation: topology.Operation,
) -> None:
    asl = ASLS[operation]
    states = asl["States"]
    path = _success_path(states, asl["StartAt"])
    steps = [n for n in path if n in _lambda_tasks(states)]
    assert tuple(steps) == topology.MACHINES[operation].steps
    for step in steps:
        assert path[path.index(step) + 1] == f"Record{step}"
    (succeed,) = ENDS[operation][0]
    assert path[-2:] == [f"Announce{succeed}", succeed]


def test_the_forward_chain_is_the_seven_steps_in_order() -> None:
    path = _success_path(STATES, STATES[ASL["StartAt"]]["Default"])
    assert tuple(n for n in path if n in topology.FORWARD_STEPS) == topology.FORWARD_STEPS


def _follow_to_lambda(name: str, states: dict[str, Any] = STATES) -> str:
    """From a state, walk Next/Choice to the next Lambda Task (the next saga step)."""
    seen = set()
    while name not in seen:
        seen.add(name)
        state = states[name]
        if state["Type"] == "Task" and state["Resource"] == LAMBDA:
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


def test_a_revision_resumes_into_compensation_or_past_its_pivot_into_the_clean_up() -> None:
    route = REVISE["Route"]
    assert route["Default"] == topology.REVISE_STEPS[0]
    finish, resume = route["Choices"]
    assert finish["And"][1] == {"Variable": "$.resume.finish", "StringEquals": "cleanup"}
    assert finish["Next"] == "RecordResumedCleanup"
    assert _follow_to_lambda("RecordResumedCleanup", REVISE) == topology.REVISE_STEPS[PIVOT + 1]
    assert resume == {"Variable": "$.resume", "IsPresent": True, "Next": "RecordResume"}
    assert REVISE["RecordResume"]["Next"] == "CompensateFrom"
    parameters = REVISE["RecordResumedCleanup"]["Parameters"]
    expression = parameters["UpdateExpression"]
    for clause in (
        "#status = :running",
        "playStatus = :completed",
        "version = :version",
        "counts = :counts",
        "title = :title",
        "steps.#step = :step",
        "executionArn = :execution",
    ):
        assert clause in expression
    assert expression.endswith("REMOVE cleanupFailure, endedAt")
    assert parameters["ExpressionAttributeNames"]["#step"] == topology.REVISE_PIVOT


def test_a_deletion_starts_at_its_pivot_and_so_does_any_resume() -> None:
    route = DELETE["Route"]
    assert _follow_to_lambda(route["Default"], DELETE) == topology.DELETE_PIVOT == topology.DELETE_STEPS[0]
    (resume,) = route["Choices"]
    assert resume == {"Variable": "$.resume", "IsPresent": True, "Next": "RecordResumedDelete"}
    assert _follow_to_lambda("RecordResumedDelete", DELETE) == topology.DELETE_PIVOT
    expression = DELETE["RecordResumedDelete"]["Parameters"]["UpdateExpression"]
    assert "playStatus = :deleting" in expression and "executionArn = :execution" in expression
    assert expression.endswith("REMOVE cleanupFailure, endedAt")


@pytest.mark.parametrize(
    ("operation", "state"),
    [
        ("create", "RecordResume"),
        ("create", "RecordRecoveredPublish"),
        ("revise", "RecordResume"),
        ("revise", "RecordResumedCleanup"),
        ("delete", "RecordResumedDelete"),
    ],
)
def test_a_resume_points_the_ledger_at_its_own_execution(operation: topology.Operation, state: str) -> None:
    """So whoever looks for a stuck saga's execution next finds this one, not the one it replaced."""
    parameters = ASLS[operation]["States"][state]["Parameters"]
    assert "executionArn = :execution" in parameters["UpdateExpression"]
    assert parameters["ExpressionAttributeValues"][":execution"] == {"S.$": "$$.Execution.Id"}


def test_a_recovered_publish_completes_the_play_in_the_ledger() -> None:
    parameters = STATES["RecordRecoveredPublish"]["Parameters"]
    assert parameters["ExpressionAttributeNames"] == {"#step": "PublishPlay", "#status": "status"}
    assert parameters["ExpressionAttributeValues"][":completed"] == {"S": "COMPLETED"}
    assert parameters["ExpressionAttributeValues"][":step"]["M"]["status"] == {"S": "SUCCEEDED"}
    assert "playStatus = :completed" in parameters["UpdateExpression"]


@pytest.mark.parametrize("operation", topology.OPERATIONS)
def test_every_step_names_the_saga_the_ledger_records_not_the_execution_running_it(
    operation: topology.Operation,
) -> None:
    """A resume runs under another execution name; the rows and the script's lock carry the saga's id."""
    tasks = _lambda_tasks(ASLS[operation]["States"]).values()
    assert tasks
    for state in tasks:
        payload = state["Parameters"]["Payload"]
        assert payload["sagaId.$"] == "$.sagaId"
        # Faults, logs and deadlines name the state: one function serves several.
        assert payload["state.$"] == "$$.State.Name"
        assert payload["attempt.$"] == "$$.State.RetryCount"


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


def _lambda_task_names() -> list[tuple[topology.Operation, str]]:
    return [(op, name) for op, asl in ASLS.items() for name in _lambda_tasks(asl["States"])]


@pytest.mark.parametrize(("operation", "name"), _lambda_task_names())
def test_every_lambda_task_waits_out_throttling_for_minutes_before_its_own_retries(
    operation: topology.Operation, name: str
) -> None:
    """A busy hour makes slower plays, not rolled-back ones: throttles and Lambda's own errors are
    retried with jittered, capped backoff for up to ten minutes, and matched before the state's other
    retriers, so they never use up the attempts kept for the step's own failures."""
    wait_out = ASLS[operation]["States"][name]["Retry"][0]
    assert wait_out["ErrorEquals"] == LAMBDA_SERVICE_ERRORS
    assert wait_out["JitterStrategy"] == "FULL"
    bounds = retry_wait_bounds(wait_out)
    assert max(bounds) == wait_out["MaxDelaySeconds"] == 30
    assert 5 * 60 < sum(bounds) <= LAMBDA_WAIT_BUDGET_SECONDS
    assert wait_out["MaxAttempts"] >= 20
    # The same for every Lambda task.
    assert wait_out == STATES[topology.FORWARD_STEPS[0]]["Retry"][0]


def _compensated_steps() -> list[tuple[topology.Operation, str]]:
    return [(op, step) for op, undone in UNDONE.items() for step in undone]


@pytest.mark.parametrize(("operation", "step"), _compensated_steps())
def test_each_step_retries_transients_and_its_catch_enters_its_own_compensation(
    operation: topology.Operation, step: str
) -> None:
    states = ASLS[operation]["States"]
    state = states[step]
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
    failed = states[catch["Next"]]
    assert failed["Parameters"]["step"] == step
    # Through the envelope's parsing and the ledger, to the Choice that routes by the failed step's
    # name to that step's compensation.
    assert "CompensateFrom" in _reachable(states, catch["Next"])
    choice = states["CompensateFrom"]
    route = next(c["Next"] for c in choice["Choices"] if c["StringEquals"] == step)
    assert route == UNDONE[operation][step]
    # So does its record's failure: a step the ledger does not know of is undone too.
    assert states[f"Record{step}"]["Catch"] == [catch]


def _retried_until_done() -> list[tuple[topology.Operation, str]]:
    return [(op, step) for op, steps in RETRIED_UNTIL_DONE.items() for step in steps]


@pytest.mark.parametrize(("operation", "step"), _retried_until_done())
def test_a_step_past_the_pivot_is_retried_and_then_ends_the_saga_cleanup_pending(
    operation: topology.Operation, step: str
) -> None:
    states = ASLS[operation]["States"]
    state = states[step]
    wait_out, until_done = state["Retry"]
    assert wait_out["ErrorEquals"] == LAMBDA_SERVICE_ERRORS
    assert until_done == {
        "ErrorEquals": ["States.ALL"],
        "IntervalSeconds": 2,
        "MaxAttempts": 6,
        "BackoffRate": 2,
        "MaxDelaySeconds": 60,
        "JitterStrategy": "FULL",
    }
    (catch,) = state["Catch"]
    assert catch["ResultPath"] == "$.cleanupFailure"
    assert states[catch["Next"]]["Parameters"]["step"] == step
    end, visited = catch["Next"], []
    while states[end]["Type"] not in ("Fail", "Succeed"):
        visited.append(end)
        end = states[end].get("Next") or states[end]["Default"]
    assert end == "CleanupPending"
    assert "RecordCleanupPending" in visited and "AnnounceCleanupPending" in visited
    # Nothing past the pivot is undone: from this step on, no compensation can run.
    assert not _reachable(states, step) & (_compensations(states) | {"CompensateFrom", "RecordFailure"})
    # A ledger write that fails after the step does not stop the saga: the step is done.
    (record_catch,) = states[f"Record{step}"]["Catch"]
    assert record_catch["Next"] == states[f"Record{step}"]["Next"]


def test_no_compensation_is_reachable_after_the_revisions_pivot_is_recorded() -> None:
    after = REVISE[f"Record{topology.REVISE_PIVOT}"]["Next"]
    assert after == topology.REVISE_STEPS[PIVOT + 1]
    reachable = _reachable(REVISE, after) | _reachable(REVISE, "RecordResumedCleanup")
    assert not reachable & (_compensations(REVISE) | {"CompensateFrom", "RecordFailure", "RecordResume"})


@pytest.mark.parametrize("operation", ["create", "revise"])
def test_compensations_run_in_reverse_order_down_to_delete_script_then_fail(
    operation: topology.Operation,
) -> None:
    states = ASLS[operation]["States"]
    undone = UNDONE[operation]
    chain = []
    name = undone[next(reversed(undone))]
    while states[name]["Type"] != "Fail":
        chain.append(name)
        name = _follow_to_lambda(states[name]["Next"], states)
    assert chain == [undone[s] for s in reversed(undone)]
    assert chain[-1] == "DeleteScript"
    assert name == "RolledBack"
    assert "$.failure.step" in states["RolledBack"]["ErrorPath"]
    assert _compensations(states) == set(undone.values())


def _compensation_states() -> list[tuple[topology.Operation, str]]:
    return [(op, c) for op, undone in UNDONE.items() for c in undone.values()]


@pytest.mark.parametrize(("operation", "compensation"), _compensation_states())
def test_compensations_retry_with_backoff_and_a_final_failure_is_loud(
    operation: topology.Operation, compensation: str
) -> None:
    states = ASLS[operation]["States"]
    state = states[compensation]
    wait_out, retry = state["Retry"]
    assert wait_out["ErrorEquals"] == LAMBDA_SERVICE_ERRORS
    assert retry["ErrorEquals"] == ["States.ALL"]
    assert retry["BackoffRate"] > 1 and retry["MaxAttempts"] >= 3
    (catch,) = state["Catch"]
    # A compensation that keeps failing ends the saga in CompensationFailed, never in success.
    end = catch["Next"]
    visited = []
    while states[end]["Type"] not in ("Fail", "Succeed"):
        visited.append(end)
        end = states[end].get("Next") or states[end]["Default"]
    assert end == "CompensationFailed"
    assert "RecordCompensationFailure" in visited and "AnnounceCompensationFailed" in visited


@pytest.mark.parametrize("operation", topology.OPERATIONS)
def test_every_lambda_task_has_a_timeout_and_a_function_of_the_topology(
    operation: topology.Operation,
) -> None:
    states = ASLS[operation]["States"]
    names = {f.placeholder for f in topology.SAGA_FUNCTIONS}
    tasks = _lambda_tasks(states)
    assert set(tasks) == set(topology.MACHINES[operation].steps) | set(UNDONE[operation].values())
    for state_name, state in tasks.items():
        # The deployment sets both (topology), beyond every function's own timeout; a forward step's
        # may be shortened, a compensation's (or a step's that cannot be undone) never is.
        timeout = (
            "$.stepTimeoutSeconds" if state_name in UNDONE[operation] else "$.compensationTimeoutSeconds"
        )
        assert state["TimeoutSecondsPath"] == timeout
        # The handler stops at the same deadline the state machine keeps.
        assert state["Parameters"]["Payload"]["stepTimeoutSeconds.$"] == timeout
        assert state["Parameters"]["FunctionName"].strip("${}") in names


def test_the_input_is_a_claim_check_not_the_play() -> None:
    payload = STATES["CreateDialogue"]["Parameters"]["Payload"]
    assert payload["play.$"] == "$.play"  # a reference: bucket and prefix
    common = {"playId.$", "sagaId.$", "version.$", "counts.$", "fault.$", "state.$", "attempt.$"}
    assert set(payload) == common | {"play.$", "stepTimeoutSeconds.$"}
    compensation = STATES["DeleteDialogue"]["Parameters"]["Payload"]
    assert set(compensation) == common | {"stepTimeoutSeconds.$"}
    assert compensation["attempt.$"] == "$$.State.RetryCount"
    assert compensation["version.$"] == "$.version"


def test_a_revision_writes_its_draft_and_cleans_up_the_previous_version_with_the_delete_functions() -> None:
    for step in topology.REVISE_STEPS[:PIVOT]:
        payload = REVISE[step]["Parameters"]["Payload"]
        assert (payload["play.$"], payload["version.$"], payload["counts.$"]) == (
            "$.play",
            "$.version",
            "$.counts",
        )
    for step, function in topology.CLEANUP_STEPS.items():
        parameters = REVISE[step]["Parameters"]
        assert parameters["FunctionName"] == "${" + topology.function(function).placeholder + "}"
        assert parameters["Payload"]["version.$"] == "$.previous.version"
        assert parameters["Payload"]["counts.$"] == "$.previous.counts"
        assert "play.$" not in parameters["Payload"]
    for step in (topology.REVISE_PIVOT, topology.REVISE_PIVOT_COMPENSATION):
        payload = REVISE[step]["Parameters"]["Payload"]
        assert (payload["version.$"], payload["previous.$"]) == ("$.version", "$.previous")
    # The compensations delete the draft, never the previous version.
    for compensation in _compensations(REVISE):
        assert REVISE[compensation]["Parameters"]["Payload"]["version.$"] == "$.version"


def test_a_deletion_runs_each_step_on_the_version_it_deletes() -> None:
    for step in topology.DELETE_STEPS:
        parameters = DELETE[step]["Parameters"]
        assert parameters["FunctionName"] == "${" + topology.function(step).placeholder + "}"
        assert parameters["Payload"]["version.$"] == "$.version"
        assert "play.$" not in parameters["Payload"]


def _update(states: dict[str, Any], name: str) -> tuple[str, dict[str, Any]]:
    parameters = states[name]["Parameters"]
    assert states[name]["Resource"] == UPDATE_ITEM
    return parameters["UpdateExpression"], parameters["ExpressionAttributeValues"]


@pytest.mark.parametrize(
    ("operation", "state", "play_status"),
    [
        ("create", "RecordPublishPlay", "COMPLETED"),
        ("create", "RecordRecoveredPublish", "COMPLETED"),
        ("create", "RecordRolledBack", "ROLLED_BACK"),
        ("create", "RecordCompensationFailure", "COMPENSATION_FAILED"),
        ("revise", "RecordResumedCleanup", "COMPLETED"),
        ("delete", "RecordResumedDelete", "DELETING"),
        ("delete", "RecordDeleted", "DELETED"),
    ],
)
def test_the_ledger_keeps_the_plays_status(
    operation: topology.Operation, state: str, play_status: str
) -> None:
    expression, values = _update(ASLS[operation]["States"], state)
    (placeholder,) = re.findall(r"playStatus = (:\w+)", expression)
    assert values[placeholder] == {"S": play_status}


@pytest.mark.parametrize(
    ("operation", "state"),
    [
        ("revise", "RecordRolledBack"),
        ("revise", "RecordCompensationFailure"),
        ("revise", "RecordRevised"),
        ("revise", "RecordCleanupPending"),
        ("delete", "RecordCleanupPending"),
    ],
)
def test_a_saga_that_did_not_make_or_remove_the_play_leaves_its_status(
    operation: topology.Operation, state: str
) -> None:
    """A revision that rolls back leaves the play as it was; one that stops past its pivot has already
    made the draft the play (and a stalled deletion's play stays DELETING)."""
    expression, _ = _update(ASLS[operation]["States"], state)
    assert "playStatus" not in expression


def test_the_revisions_pivot_makes_the_draft_the_plays_version_on_the_ledger() -> None:
    expression, values = _update(REVISE, f"Record{topology.REVISE_PIVOT}")
    assert expression == (
        "SET steps.#step = :step, version = :version, counts = :counts, title = :title, updatedAt = :now"
    )
    assert values[":version"] == {"N.$": "States.Format('{}', $.version)"}
    assert set(values[":counts"]["M"]) == set(topology.ENTITY_TABLES)
    assert values[":title"] == {"S.$": "$.title"}


@pytest.mark.parametrize(
    ("operation", "state", "status"),
    [
        ("revise", "RecordRevised", "COMPLETED"),
        ("delete", "RecordDeleted", "COMPLETED"),
        ("revise", "RecordCleanupPending", "CLEANUP_PENDING"),
        ("delete", "RecordCleanupPending", "CLEANUP_PENDING"),
    ],
)
def test_the_new_sagas_end_on_the_ledger(operation: topology.Operation, state: str, status: str) -> None:
    expression, values = _update(ASLS[operation]["States"], state)
    (placeholder,) = re.findall(r"#status = (:\w+)", expression)
    assert values[placeholder] == {"S": status}
    assert "endedAt = :now" in expression


def test_a_step_that_stops_the_saga_past_its_pivot_is_on_the_ledger() -> None:
    for states in (REVISE, DELETE):
        expression, values = _update(states, "RecordCleanupPending")
        assert "cleanupFailure = :cf" in expression and "steps.#step = :failed" in expression
        assert states["RecordCleanupPending"]["Parameters"]["ExpressionAttributeNames"]["#step.$"] == (
            "$.cleanupFailure.step"
        )
        assert set(values[":cf"]["M"]) == {"step", "error", "cause"}


def _envelopes() -> list[tuple[topology.Operation, str, str]]:
    return [
        ("create", "failure", "RecordFailure"),
        ("create", "compensationFailure", "RecordCompensationFailure"),
        ("revise", "failure", "RecordFailure"),
        ("revise", "compensationFailure", "RecordCompensationFailure"),
        ("revise", "cleanupFailure", "RecordCleanupPending"),
        ("delete", "cleanupFailure", "RecordCleanupPending"),
    ]


@pytest.mark.parametrize(("operation", "field", "record"), _envelopes())
def test_a_failure_keeps_only_the_message_of_our_handlers_error_envelope(
    operation: topology.Operation, field: str, record: str
) -> None:
    """What the ledger records and clients read holds no stack trace; AWS's own errors pass as they are."""
    states = ASLS[operation]["States"]
    name = field[0].upper() + field[1:]
    read = states[f"Read{name}"]
    (choice,) = read["Choices"]
    assert sorted(rule["StringEquals"] for rule in choice["Or"]) == sorted(topology.HANDLER_ERRORS)
    parse, keep = states[choice["Next"]], states[f"Keep{name}Message"]
    assert parse["Parameters"]["cause.$"] == f"States.StringToJson($.{field}.cause)"
    assert parse["Next"] == f"Keep{name}Message"
    assert keep["Parameters"]["cause.$"] == f"$.{field}.cause.errorMessage"
    assert keep["Next"] == read["Default"] == record


def test_handlers_raise_only_the_errors_the_state_machine_reads() -> None:
    from fountain_saga.entities import handlers

    raised = {error.__name__ for error in handlers.CLIENT_SAFE_ERRORS} | {handlers.StepFailed.__name__}
    assert raised == set(topology.HANDLER_ERRORS)


ANNOUNCEMENTS: dict[topology.Operation, dict[str, str]] = {
    "create": {
        "AnnouncePlayCreated": "PlayCreated",
        "AnnouncePlayRolledBack": "RolledBack",
        "AnnounceCompensationFailed": "CompensationFailed",
    },
    "revise": {
        "AnnouncePlayRevised": "PlayRevised",
        "AnnouncePlayRolledBack": "RolledBack",
        "AnnounceCompensationFailed": "CompensationFailed",
        "AnnounceCleanupPending": "CleanupPending",
    },
    "delete": {"AnnouncePlayDeleted": "PlayDeleted", "AnnounceCleanupPending": "CleanupPending"},
}
# What each event tells its readers (besides its type): the fields of its detail.
DETAILS = {
    "PlayCreated": {"playId", "status", "counts"},
    "PlayRolledBack": {"playId", "operation", "status", "failure"},
    "PlayCompensationFailed": {"playId", "operation", "status", "failure", "compensationFailure"},
    "PlayRevised": {"playId", "version", "counts"},
    "PlayDeleted": {"playId", "version"},
    "PlayCleanupPending": {"playId", "operation", "cleanupFailure"},
}


@pytest.mark.parametrize("operation", topology.OPERATIONS)
def test_every_event_the_saga_publishes_is_an_announcement_of_its_end(operation: topology.Operation) -> None:
    states = ASLS[operation]["States"]
    publishing = {n for n, s in states.items() if s.get("Resource") == PUT_EVENTS}
    assert publishing == set(ANNOUNCEMENTS[operation])
    for name in publishing:
        (entry,) = states[name]["Parameters"]["Entries"]
        assert entry["Source"] == topology.EVENT_SOURCE
        assert {key.removesuffix(".$") for key in entry["Detail"]} == DETAILS[entry["DetailType"]]
        if "operation" in entry["Detail"]:
            assert entry["Detail"]["operation"] == operation


@pytest.mark.parametrize(
    ("operation", "announce", "end"),
    [
        (op, announce, end)
        for op, announcements in ANNOUNCEMENTS.items()
        for announce, end in announcements.items()
    ],
)
def test_an_announcement_that_keeps_failing_is_owed_on_the_ledger_and_the_saga_ends_as_it_did(
    operation: topology.Operation, announce: str, end: str
) -> None:
    """The ledger already holds the saga's outcome: a bus that refuses its event must not turn a
    finished saga into a failed execution."""
    from fountain_saga.saga.ledger import OWES_ANNOUNCEMENT

    states = ASLS[operation]["States"]
    state = states[announce]
    assert state["Next"] == end
    (retry,) = state["Retry"]
    assert retry["ErrorEquals"] == ["States.TaskFailed"] and retry["MaxAttempts"] >= 3
    assert retry["BackoffRate"] > 1 and retry["JitterStrategy"] == "FULL"
    (catch,) = state["Catch"]
    assert catch["ErrorEquals"] == ["States.ALL"] and catch["ResultPath"] == "$.announcementError"
    owe = states[catch["Next"]]
    # The ledger keeps exactly the entry the state would have sent: the sweeper publishes it as is.
    (entry,) = state["Parameters"]["Entries"]
    assert owe["Type"] == "Pass" and owe["Parameters"] == entry
    assert owe["ResultPath"] == "$.announcement"
    record = states[owe["Next"]]
    parameters = record["Parameters"]
    assert record["Resource"] == UPDATE_ITEM
    assert parameters["UpdateExpression"] == "SET announcement = :announcement, owes = :owes"
    assert parameters["ExpressionAttributeValues"][":owes"] == {"S": OWES_ANNOUNCEMENT}
    mark = parameters["ExpressionAttributeValues"][":announcement"]["M"]
    assert mark["detail"] == {"S.$": "States.JsonToString($.announcement.Detail)"}
    assert mark["error"] == {"S.$": "$.announcementError.Error"}
    # Then the execution ends where the announcement would have led it.
    choice = states[record["Next"]]
    (route,) = [c for c in choice["Choices"] if c["StringEquals"] == entry["DetailType"]]
    assert route == {
        "Variable": "$.announcement.DetailType",
        "StringEquals": entry["DetailType"],
        "Next": end,
    }
