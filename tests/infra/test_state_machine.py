"""The state machine in the template is the ASL file, with every placeholder bound to a resource
of the stack: each Task's function exists and is the topology's function for that state."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from fountain_saga import topology
from tests.infra.conftest import Synthesized
from tests.infra.intrinsics import render

ASL_TEXT = topology.STATE_MACHINE_FILE.read_text()


def _machine(synth: Synthesized, stage: str = "dev") -> dict[str, Any]:
    (machine,) = synth.resources("AWS::StepFunctions::StateMachine", stage).values()
    properties: dict[str, Any] = machine["Properties"]
    return properties


def _deployed_definition(synth: Synthesized) -> dict[str, Any]:
    """The definition as CloudFormation will hand it to Step Functions, references rendered."""
    machine = _machine(synth)
    substitutions = {key: render(value) for key, value in machine["DefinitionSubstitutions"].items()}
    document: dict[str, Any] = json.loads(topology.substitute(machine["DefinitionString"], substitutions))
    return document


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_the_definition_is_inlined_verbatim_from_the_asl_file(synth: Synthesized, stage: str) -> None:
    assert _machine(synth, stage)["DefinitionString"] == ASL_TEXT
    assert "DefinitionS3Location" not in _machine(synth, stage)


def test_every_placeholder_has_a_substitution_and_nothing_else_is_substituted(synth: Synthesized) -> None:
    placeholders = set(re.findall(r"\$\{(\w+)\}", ASL_TEXT))
    assert set(_machine(synth)["DefinitionSubstitutions"]) == placeholders
    assert not re.search(r"\$\{\w+\}", json.dumps(_deployed_definition(synth)))


def test_the_inlined_definition_after_substitution_is_the_topologys(synth: Synthesized) -> None:
    stack = synth.stacks["dev"]
    expected = topology.substitute(
        ASL_TEXT,
        topology.state_machine_substitutions(
            {name: f"<{synth.logical_id(fn)}.Arn>" for name, fn in stack.functions.saga.items()},
            {key: f"<{synth.logical_id(table)}>" for key, table in stack.data.tables.items()},
            f"<{synth.logical_id(stack.data.event_bus)}>",
        ),
    )
    assert _deployed_definition(synth) == json.loads(expected)


def test_every_lambda_task_invokes_an_existing_function_with_that_states_handler(synth: Synthesized) -> None:
    functions = synth.resources("AWS::Lambda::Function")
    tasks = {
        name: state
        for name, state in _deployed_definition(synth)["States"].items()
        if state.get("Resource") == "arn:aws:states:::lambda:invoke"
    }
    assert set(tasks) == {f.name for f in topology.SAGA_FUNCTIONS}
    for name, state in tasks.items():
        reference = state["Parameters"]["FunctionName"]
        match = re.fullmatch(r"<(\w+)\.Arn>", reference)
        assert match, f"{name} invokes {reference}, not a function of the stack"
        function = functions[match.group(1)]["Properties"]
        assert function["Handler"] == topology.function(name).handler


def test_ledger_and_event_tasks_use_the_stacks_ledger_table_and_bus(synth: Synthesized) -> None:
    stack = synth.stacks["dev"]
    ledger = f"<{synth.logical_id(stack.data.tables['ledger'])}>"
    bus = f"<{synth.logical_id(stack.data.event_bus)}>"
    states = _deployed_definition(synth)["States"].values()
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
