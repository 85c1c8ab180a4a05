"""Reading a synthesized template: CloudFormation intrinsics rendered as readable strings, the
way cdk-nag writes them (``<LogicalId.Arn>``), and IAM statements in one normal form."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any


def render(value: Any) -> str:
    """``{"Fn::GetAtt": ["Table", "Arn"]}`` -> ``<Table.Arn>``; ``{"Ref": "Bus"}`` -> ``<Bus>``."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and len(value) == 1:
        (function, argument), *_ = value.items()
        if function == "Ref":
            return f"<{argument}>"
        if function == "Fn::GetAtt":
            return f"<{argument[0]}.{argument[1]}>"
        if function == "Fn::Sub" and isinstance(argument, str):
            return re.sub(r"\$\{([^}]+)\}", r"<\1>", argument)
        if function == "Fn::Join":
            separator, parts = argument
            return str(separator).join(render(part) for part in parts)
    raise AssertionError(f"unexpected intrinsic in a template: {value!r}")


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


@dataclass(frozen=True)
class Statement:
    effect: str
    actions: frozenset[str]
    resources: frozenset[str]
    condition: dict[str, Any] = field(default_factory=dict, hash=False)

    @classmethod
    def parse(cls, raw: dict[str, Any]) -> Statement:
        return cls(
            effect=raw["Effect"],
            actions=frozenset(as_list(raw["Action"])),
            resources=frozenset(render(r) for r in as_list(raw["Resource"])),
            condition=raw.get("Condition", {}),
        )


def role_statements(template: dict[str, Any], role_logical_id: str) -> list[Statement]:
    """Every statement the role is granted: its inline policies and every AWS::IAM::Policy on it."""
    resources = template["Resources"]
    documents = [p["PolicyDocument"] for p in resources[role_logical_id]["Properties"].get("Policies", [])]
    documents += [
        r["Properties"]["PolicyDocument"]
        for r in resources.values()
        if r["Type"] == "AWS::IAM::Policy" and {"Ref": role_logical_id} in r["Properties"]["Roles"]
    ]
    return [Statement.parse(s) for document in documents for s in document["Statement"]]
