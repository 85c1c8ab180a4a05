"""The sagas as Mermaid flowcharts, generated from their ASL files, and kept in README.md.

One chart per state machine (create, revise, delete), under a heading naming it. Every state is
a node and every transition an edge: ``Next`` and ``Default`` as plain arrows, each Choice rule
labelled with the value it matches, each Catch as a dotted arrow. Node shapes follow what a
state does (Lambda step, ledger write, event, choice, end), and a Lambda step's colour what its
failure does (compensated, compensating, or retried until done), so the charts stay readable
without hand-drawn simplifications that could drift from the files.

    make diagram                                                  # make asl, then rewrite README's block
    PYTHONPATH=infra python -m fountain_infra.asl_diagram --check README.md   # exit 1 if stale
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from fountain_saga import topology

BEGIN = "<!-- saga-diagram:start -->"
END = "<!-- saga-diagram:end -->"
_LAMBDA = "arn:aws:states:::lambda:invoke"
_COMPARISONS = ("StringEquals", "NumericEquals", "BooleanEquals", "StringMatches", "IsPresent", "IsNull")
# What a Lambda step's Catch keeps its error in says which kind of step it is.
_STEP_CLASSES = {
    "$.failure": "forward",
    "$.compensationFailure": "compensation",
    "$.cleanupFailure": "retriable",
}
_LEGEND = (
    "Green steps are compensated when they fail, red ones are the compensations, amber ones come "
    "after a pivot and are retried until done; cylinders are ledger writes, flags published events."
)


def flowchart(definition: dict[str, Any]) -> str:
    """The Mermaid source of a JSONPath ASL definition."""
    states: dict[str, dict[str, Any]] = definition["States"]
    lines = ["flowchart TD", "    start((start))", f"    start --> {definition['StartAt']}"]
    for name, state in states.items():
        lines.append(f"    {_node(name, state)}")
    for name, state in states.items():
        lines.extend(f"    {edge}" for edge in _edges(name, state))
    lines.extend(
        [
            "    classDef forward fill:#e3f2e1,stroke:#2e7d32",
            "    classDef compensation fill:#fdecea,stroke:#c62828",
            "    classDef retriable fill:#fff3e0,stroke:#ef6c00",
            "    classDef ledger fill:#eceff1,stroke:#607d8b",
            "    classDef event fill:#e8eaf6,stroke:#3949ab",
            "    classDef succeeded fill:#2e7d32,color:#fff,stroke:#1b5e20",
            "    classDef failed fill:#c62828,color:#fff,stroke:#8e0000",
        ]
    )
    for css, members in _classes(states).items():
        if members:
            lines.append(f"    class {','.join(members)} {css}")
    return "\n".join(lines) + "\n"


def _node(name: str, state: dict[str, Any]) -> str:
    kind = state["Type"]
    resource = state.get("Resource", "")
    label = f'"{name}"'
    if kind == "Task" and resource.startswith("arn:aws:states:::dynamodb:"):
        return f"{name}[({label})]"
    if kind == "Task" and resource.startswith("arn:aws:states:::events:"):
        return f"{name}>{label}]"
    if kind == "Choice":
        return f"{name}{{{label}}}"
    if kind in ("Succeed", "Fail"):
        return f"{name}([{label}])"
    if kind == "Pass":
        return f"{name}({label})"
    return f"{name}[{label}]"


def _edges(name: str, state: dict[str, Any]) -> list[str]:
    edges = []
    for rule in state.get("Choices", []):
        edges.append(f'{name} -->|"{_describe(rule)}"| {rule["Next"]}')
    if "Default" in state:
        edges.append(f'{name} -->|"otherwise"| {state["Default"]}')
    if "Next" in state:
        edges.append(f"{name} --> {state['Next']}")
    for target in dict.fromkeys(c["Next"] for c in state.get("Catch", [])):
        edges.append(f'{name} -.->|"catch"| {target}')
    return edges


def _describe(rule: dict[str, Any]) -> str:
    if "IsPresent" in rule:
        field = str(rule["Variable"]).removeprefix("$.")
        return f"{field} given" if rule["IsPresent"] else f"no {field}"
    for comparison in _COMPARISONS:
        if comparison in rule:
            return str(rule[comparison]).replace('"', "#quot;")
    # A field's presence guarding a test of its value says nothing the value does not.
    tested = [r for r in rule.get("And", []) if "IsPresent" not in r]
    if len(tested) == 1:
        return _describe(tested[0])
    return "rule"


def _classes(states: dict[str, dict[str, Any]]) -> dict[str, list[str]]:
    classes: dict[str, list[str]] = {
        "forward": [],
        "compensation": [],
        "retriable": [],
        "ledger": [],
        "event": [],
        "succeeded": [],
        "failed": [],
    }
    for name, state in states.items():
        resource = state.get("Resource", "")
        if state["Type"] == "Succeed":
            classes["succeeded"].append(name)
        elif state["Type"] == "Fail":
            classes["failed"].append(name)
        elif resource == _LAMBDA:
            (catch,) = state["Catch"]
            classes[_STEP_CLASSES[catch["ResultPath"]]].append(name)
        elif resource.startswith("arn:aws:states:::dynamodb:"):
            classes["ledger"].append(name)
        elif resource.startswith("arn:aws:states:::events:"):
            classes["event"].append(name)
    return classes


def section(machine: topology.MachineSpec) -> str:
    """One machine's heading and chart."""
    source = machine.file.relative_to(machine.file.parents[1]).as_posix()
    chart = flowchart(json.loads(machine.file.read_text()))
    title = f"{machine.operation.capitalize()} a play"
    return f"#### {title}: `{machine.name}` ({source})\n\n```mermaid\n{chart}```\n"


def readme_block(machines: Iterable[topology.MachineSpec] = topology.MACHINES.values()) -> str:
    """The README block, markers included."""
    sections = "\n".join(section(machine) for machine in machines)
    return (
        f"{BEGIN}\n<!-- generated from statemachine/*.asl.json by `make diagram`; do not edit by hand -->\n"
        f"{_LEGEND}\n\n{sections}{END}"
    )


def with_block(text: str, block: str) -> str:
    """``text`` with its diagram block replaced by ``block``."""
    start, end = text.find(BEGIN), text.find(END)
    if start < 0 or end < start:
        raise ValueError(f"no {BEGIN} ... {END} block to replace")
    return text[:start] + block + text[end + len(END) :]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("readme", type=Path)
    parser.add_argument("--check", action="store_true", help="only report whether the block is stale")
    args = parser.parse_args(argv)
    current = args.readme.read_text()
    updated = with_block(current, readme_block())
    if args.check:
        if updated != current:
            print(f"{args.readme}: the saga diagram is stale; run `make diagram`", file=sys.stderr)
            return 1
        return 0
    if updated != current:
        args.readme.write_text(updated)
    return 0


if __name__ == "__main__":
    sys.exit(main())
