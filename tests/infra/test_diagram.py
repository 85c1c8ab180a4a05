"""The saga diagrams: generated from the ASL files, and README.md holds the current ones."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from fountain_infra import asl_diagram
from fountain_saga import topology
from tests.conftest import REPO


def _asl(operation: topology.Operation) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(topology.MACHINES[operation].file.read_text())
    return document


def _class_members(chart: str, css: str) -> set[str]:
    (members,) = re.findall(rf"^    class (\S+) {css}$", chart, re.MULTILINE)
    return set(members.split(","))


def test_the_readme_shows_the_diagrams_of_the_current_asl_files() -> None:
    readme = (REPO / "README.md").read_text()
    assert asl_diagram.readme_block() in readme, "README's saga diagrams are stale: run `make diagram`"


def test_each_machine_has_its_own_chart_under_a_heading_naming_it() -> None:
    block = asl_diagram.readme_block()
    headings = re.findall(r"^#### .*`([\w-]+)`", block, re.MULTILINE)
    assert headings == [machine.name for machine in topology.MACHINES.values()]
    assert block.count("```mermaid\nflowchart TD\n") == len(topology.MACHINES)


@pytest.mark.parametrize("operation", topology.OPERATIONS)
def test_every_state_is_a_node_and_every_transition_an_edge(operation: topology.Operation) -> None:
    asl = _asl(operation)
    chart = asl_diagram.flowchart(asl)
    nodes = set(re.findall(r"^    (\w+)[\[\(\{>]", chart, re.MULTILINE)) - {"start"}
    assert nodes == set(asl["States"])
    edges = set(re.findall(r"^    (\w+) -\.?->(?:\|[^|]*\|)? (\w+)$", chart, re.MULTILINE))
    expected = {("start", asl["StartAt"])}
    for name, state in asl["States"].items():
        targets = [state.get("Next"), state.get("Default")]
        targets += [rule["Next"] for rule in state.get("Choices", [])]
        targets += [catch["Next"] for catch in state.get("Catch", [])]
        expected |= {(name, target) for target in targets if target}
    assert edges == expected


def test_choices_are_labelled_with_what_they_match_and_catches_are_dotted() -> None:
    chart = asl_diagram.flowchart(_asl("create"))
    for step, compensation in topology.COMPENSATIONS.items():
        assert f'CompensateFrom -->|"{step}"| {compensation}' in chart
    assert 'CreateDialogue -.->|"catch"| CreateDialogueFailed' in chart
    revise = asl_diagram.flowchart(_asl("revise"))
    pivot, undo = topology.REVISE_PIVOT, topology.REVISE_PIVOT_COMPENSATION
    assert f'CompensateFrom -->|"{pivot}"| {undo}' in revise
    assert 'Route -->|"cleanup"| RecordResumedCleanup' in revise


def test_steps_are_coloured_by_what_their_failure_does() -> None:
    """The same function is a compensation in one saga and a step retried until done in another."""
    create = asl_diagram.flowchart(_asl("create"))
    assert _class_members(create, "forward") == set(topology.FORWARD_STEPS)
    assert _class_members(create, "compensation") == set(topology.COMPENSATIONS.values())
    assert "retriable" not in re.findall(r"^    class \S+ (\w+)$", create, re.MULTILINE)
    revise = asl_diagram.flowchart(_asl("revise"))
    assert _class_members(revise, "retriable") == set(topology.CLEANUP_STEPS)
    assert topology.REVISE_PIVOT in _class_members(revise, "forward")
    assert topology.REVISE_PIVOT_COMPENSATION in _class_members(revise, "compensation")
    delete = asl_diagram.flowchart(_asl("delete"))
    assert _class_members(delete, "retriable") == set(topology.DELETE_STEPS)


def test_the_block_is_replaced_in_place_and_a_stale_one_is_reported(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text(f"# Title\n\n{asl_diagram.BEGIN}\nold\n{asl_diagram.END}\n\nAfter.\n")
    assert asl_diagram.main(["--check", str(readme)]) == 1
    assert asl_diagram.main([str(readme)]) == 0
    assert readme.read_text() == f"# Title\n\n{asl_diagram.readme_block()}\n\nAfter.\n"
    assert asl_diagram.main(["--check", str(readme)]) == 0
    with pytest.raises(ValueError, match="no <!-- saga-diagram:start -->"):
        asl_diagram.with_block("no markers", "x")


def test_a_stale_chart_of_any_machine_is_reported(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text(asl_diagram.readme_block().replace("PlayDeleted", "PlayRemoved") + "\n")
    assert asl_diagram.main(["--check", str(readme)]) == 1
