"""Each state machine in the template is its ASL file, with every placeholder bound to a resource
of the stack: each Task's function exists and is the topology's function for that state."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from fountain_saga import topology
from tests.infra.conftest import Synthesized
from tests.infra.intrinsics import render

OPERATIONS = list(topology.OPERATIONS)
# A step's compensation, where it has one; a revision's pivot is undone by its own.
UNDO = {**topology.COMPENSATIONS, topology.REVISE_PIVOT: topology.REVISE_PIVOT_COMPENSATION}


def asl_text(operation: topology.Operation) -> str:
    return topology.MACHINES[operation].file.read_text()


def function_of(state: str) -> str:
    """The function a Lambda state runs: its own name, but a revision's cleanup runs Delete<Kind>."""
    return topology.CLEANUP_STEPS.get(state, state)


def lambda_states(operation: topology.Operation) -> set[str]:
    """The Lambda states a saga of this kind may run: its steps and their compensations."""
    steps = topology.MACHINES[operation].steps
    return {*steps, *(UNDO[step] for step in steps if step in UNDO)}


def _deployed_definition(synth: Synthesized, operation: topology.Operation) -> dict[str, Any]:
    """The definition as CloudFormation will hand it to Step Functions, references rendered."""
    machine = synth.state_machine(operation)
    substitutions = {key: render(value) for key, value in machine["DefinitionSubstitutions"].items()}
    document: dict[str, Any] = json.loads(topology.substitute(machine["DefinitionString"], substitutions))
    return document


def test_the_stack_has_one_state_machine_per_operation(synth: Synthesized) -> None:
    for stage in ("dev", "prod"):
        machines = synth.resources("AWS::StepFunctions::StateMachine", stage)
        assert len(machines) == len(topology.MACHINES) == 3
        assert {m["Properties"]["StateMachineName"] for m in machines.values()} == {
            f"{machine.name}-{stage}" for machine in topology.MACHINES.values()
        }


@pytest.mark.parametrize("stage", ["dev", "prod"])
@pytest.mark.parametrize("operation", OPERATIONS)
def test_the_definition_is_inlined_verbatim_from_the_asl_file(
    synth: Synthesized, operation: topology.Operation, stage: str
) -> None:
    machine = synth.state_machine(operation, stage)
    assert machine["DefinitionString"] == asl_text(operation)
    assert "DefinitionS3Location" not in machine


@pytest.mark.parametrize("operation", OPERATIONS)
def test_every_placeholder_has_a_substitution_and_nothing_else_is_substituted(
    synth: Synthesized, operation: topology.Operation
) -> None:
    placeholders = set(re.findall(r"\$\{(\w+)\}", asl_text(operation)))
    assert set(synth.state_machine(operation)["DefinitionSubstitutions"]) == placeholders
    assert not re.search(r"\$\{\w+\}", json.dumps(_deployed_definition(synth, operation)))


@pytest.mark.parametrize("operation", OPERATIONS)
def test_the_inlined_definition_after_substitution_is_the_topologys(
    synth: Synthesized, operation: topology.Operation
) -> None:
    stack = synth.stacks["dev"]
    expected = topology.substitute(
        asl_text(operation),
        topology.state_machine_substitutions(
            {name: f"<{synth.logical_id(fn)}.Arn>" for name, fn in stack.functions.saga.items()},
            {key: f"<{synth.logical_id(table)}>" for key, table in stack.data.tables.items()},
            f"<{synth.logical_id(stack.data.event_bus)}>",
        ),
    )
    assert _deployed_definition(synth, operation) == json.loads(expected)


@pytest.mark.parametrize("operation", OPERATIONS)
def test_every_lambda_task_invokes_an_existing_function_with_that_states_handler(
    synth: Synthesized, operation: topology.Operation
) -> None:
    functions = synth.resources("AWS::Lambda::Function")
    tasks = {
        name: state
        for name, state in _deployed_definition(synth, operation)["States"].items()
        if state.get("Resource") == "arn:aws:states:::lambda:invoke"
    }
    assert set(tasks) == lambda_states(operation)
    for name, state in tasks.items():
        reference = state["Parameters"]["FunctionName"]
        match = re.fullmatch(r"<(\w+)\.Arn>", reference)
        assert match, f"{name} invokes {reference}, not a function of the stack"
        function = functions[match.group(1)]["Properties"]
        assert function["Handler"] == topology.function(function_of(name)).handler


def test_the_sagas_run_only_the_functions_their_kind_needs() -> None:
    """What least privilege rests on: a revision never publishes, a deletion never creates."""
    functions = {op: {function_of(s) for s in lambda_states(op)} for op in OPERATIONS}
    assert functions["create"] == {*topology.COMPENSATIONS, *topology.COMPENSATIONS.values()}
    assert not functions["revise"] & {"PublishPlay", "UnpublishPlay", "MarkDeleting", "ForgetPlay"}
    undo_or_switch = {"UnpublishPlay", topology.REVISE_PIVOT, topology.REVISE_PIVOT_COMPENSATION}
    assert not functions["delete"] & {*topology.COMPENSATIONS, *undo_or_switch}
    # Every saga function serves some saga.
    assert set().union(*functions.values()) == {f.name for f in topology.SAGA_FUNCTIONS}


@pytest.mark.parametrize("operation", OPERATIONS)
def test_ledger_and_event_tasks_use_the_stacks_ledger_table_and_bus(
    synth: Synthesized, operation: topology.Operation
) -> None:
    stack = synth.stacks["dev"]
    ledger = f"<{synth.logical_id(stack.data.tables['ledger'])}>"
    bus = f"<{synth.logical_id(stack.data.event_bus)}>"
    states = _deployed_definition(synth, operation)["States"].values()
    ledger_tasks = [s for s in states if s.get("Resource") == "arn:aws:states:::dynamodb:updateItem"]
    event_tasks = [s for s in states if s.get("Resource") == "arn:aws:states:::events:putEvents"]
    assert ledger_tasks and all(s["Parameters"]["TableName"] == ledger for s in ledger_tasks)
    assert event_tasks and all(
        e["EventBusName"] == bus for s in event_tasks for e in s["Parameters"]["Entries"]
    )
    # No other service integration: the role grants exactly these three kinds of call.
    resources = {s["Resource"] for s in states if s["Type"] == "Task"}
    assert resources == {
        "arn:aws:states:::lambda:invoke",
        "arn:aws:states:::dynamodb:updateItem",
        "arn:aws:states:::events:putEvents",
    }
