"""cdk-nag (AwsSolutions) and cfn-lint on the synthesized templates."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.infra.conftest import Synthesized

ACKNOWLEDGED = "aws:cdk:acknowledged-rules"


def _nag_report(synth: Synthesized) -> dict[str, Any]:
    (report,) = [p for p in synth.report.get("pluginReports", []) if p["pluginName"] == "AwsSolutions"]
    found: dict[str, Any] = report
    return found


@pytest.fixture(scope="module")
def acknowledgements(synth: Synthesized) -> dict[tuple[str, str], str]:
    """(construct path, finding) -> reason, for every acknowledgement in both stacks."""
    found = {}
    for stack in synth.stacks.values():
        for construct in stack.node.find_all():
            for entry in construct.node.metadata:
                if entry.type == ACKNOWLEDGED:
                    for finding, reason in dict(entry.data).items():
                        found[(construct.node.path, finding.removeprefix("AwsSolutions::"))] = reason
    return found


def test_cdk_nag_finds_nothing_unacknowledged(synth: Synthesized) -> None:
    violations = [
        f"{v['ruleName']} at {c['constructPath']}: {v['description']}"
        for v in _nag_report(synth)["violations"]
        for c in v["violatingConstructs"]
    ]
    assert violations == [], "\n".join(violations)
    assert synth.synth_error is None, synth.synth_error


def test_every_acknowledgement_has_a_reason_and_silences_a_real_finding(
    synth: Synthesized, acknowledgements: dict[tuple[str, str], str]
) -> None:
    suppressed = {
        (c["constructPath"], v["ruleName"])
        for v in _nag_report(synth)["suppressedViolations"]
        for c in v["violatingConstructs"]
    }
    assert acknowledgements
    for (path, finding), reason in acknowledgements.items():
        # A reviewer needs the why: more than a restatement of the rule.
        assert len(reason.split()) >= 15, (path, finding, reason)
        # An acknowledgement that silences nothing would hide the next, unrelated finding.
        assert any(
            rule == finding and (found == path or found.startswith(path + "/")) for found, rule in suppressed
        ), f"{finding} acknowledged on {path} matches no finding"


def test_wildcard_acknowledgements_name_the_exact_wildcard(
    acknowledgements: dict[tuple[str, str], str],
) -> None:
    for _, finding in acknowledgements:
        if finding.startswith("AwsSolutions-IAM5") or finding.startswith("AwsSolutions-IAM4"):
            assert finding.endswith("]") and "[" in finding, finding


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_cfn_lint_is_clean(synth: Synthesized, stage: str) -> None:
    from cfnlint.api import ManualArgs, lint  # type: ignore[import-untyped]

    # W3005 (a DependsOn that a Ref already implies) is how CDK writes templates, not an error.
    matches = lint(
        json.dumps(synth.templates[stage]),
        config=ManualArgs(ignore_checks=["W3005"], regions=["us-east-1"]),
    )
    assert [str(m) for m in matches] == []
