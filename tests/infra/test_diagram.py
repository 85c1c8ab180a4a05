"""The saga diagram: generated from the ASL file, and README.md holds the current one."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from fountain_infra import asl_diagram
from fountain_saga import topology
from tests.conftest import REPO

ASL = json.loads(topology.STATE_MACHINE_FILE.read_text())


def test_the_readme_shows_the_diagram_of_the_current_asl_file() -> None:
    readme = (REPO / "README.md").read_text()
    assert asl_diagram.readme_block() in readme, "README's saga diagram is stale: run `make diagram`"


def test_every_state_is_a_node_and_every_transition_an_edge() -> None:
    chart = asl_diagram.flowchart(ASL)
    nodes = set(re.findall(r"^    (\w+)[\[\(\{>]", chart, re.MULTILINE)) - {"start"}
    assert nodes == set(ASL["States"])
    edges = set(re.findall(r"^    (\w+) -\.?->(?:\|[^|]*\|)? (\w+)$", chart, re.MULTILINE))
    expected = {("start", ASL["StartAt"])}
    for name, state in ASL["States"].items():
        targets = [state.get("Next"), state.get("Default")]
        targets += [rule["Next"] for rule in state.get("Choices", [])]
        targets += [catch["Next"] for catch in state.get("Catch", [])]
        expected |= {(name, target) for target in targets if target}
    assert edges == expected


def test_choices_are_labelled_with_what_they_match_and_catches_are_dotted() -> None:
    chart = asl_diagram.flowchart(ASL)
    for step, compensation in topology.COMPENSATIONS.items():
        assert f'CompensateFrom -->|"{step}"| {compensation}' in chart
    assert 'CreateDialogue -.->|"catch"| CreateDialogueFailed' in chart


def test_the_block_is_replaced_in_place_and_a_stale_one_is_reported(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text(f"# Title\n\n{asl_diagram.BEGIN}\nold\n{asl_diagram.END}\n\nAfter.\n")
    assert asl_diagram.main(["--check", str(readme)]) == 1
    assert asl_diagram.main([str(readme)]) == 0
    assert readme.read_text() == f"# Title\n\n{asl_diagram.readme_block()}\n\nAfter.\n"
    assert asl_diagram.main(["--check", str(readme)]) == 0
    with pytest.raises(ValueError, match="no <!-- saga-diagram:start -->"):
        asl_diagram.with_block("no markers", "x")
