"""One synthesis for the whole infra suite: the dev stack exactly as `cdk synth` builds it (the
context of cdk.json, no -c options), and a prod stack with CORS, in one app.

Bundling is skipped (no pip, no copying: the templates do not depend on it) and so is CDK's
built-in CloudFormation validation (cfn-lint runs instead); cdk-nag runs as in a real synth.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.conftest import REPO

# Before aws_cdk is imported: the jsii Node process reads these once, at start.
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
os.environ.setdefault("AWS_EC2_METADATA_DISABLED", "true")
os.environ["CDK_VALIDATION"] = "false"
# fountain_infra is not installed: infra/app.py finds it beside itself, the tests here.
if str(REPO / "infra") not in sys.path:
    sys.path.insert(0, str(REPO / "infra"))

if TYPE_CHECKING:
    from fountain_infra.stack import FountainStack
    from fountain_saga.topology import Operation

PROD_CORS_ORIGINS = ("https://plays.example.org",)


@dataclass(frozen=True)
class Synthesized:
    stacks: dict[str, FountainStack]  # by stage
    templates: dict[str, dict[str, Any]]
    report: dict[str, Any]  # cdk's validation-report.json: cdk-nag's findings
    synth_error: str | None
    outdir: Path

    def resources(self, resource_type: str, stage: str = "dev") -> dict[str, dict[str, Any]]:
        return {
            logical_id: resource
            for logical_id, resource in self.templates[stage]["Resources"].items()
            if resource["Type"] == resource_type
        }

    def state_machine(self, operation: Operation, stage: str = "dev") -> dict[str, Any]:
        """The properties of an operation's state machine in a stage's template."""
        machine = self.stacks[stage].orchestration.state_machines[operation]
        resource = self.templates[stage]["Resources"][self.logical_id(machine)]
        properties: dict[str, Any] = resource["Properties"]
        return properties

    def logical_id(self, construct: Any) -> str:
        """The template's logical id of a construct's CloudFormation resource."""
        import aws_cdk as cdk

        resource = construct if isinstance(construct, cdk.CfnElement) else construct.node.default_child
        resolved: str = cdk.Stack.of(resource).resolve(resource.logical_id)
        return resolved


@pytest.fixture(scope="session")
def synth(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    import aws_cdk as cdk

    from fountain_infra.settings import Settings
    from fountain_infra.stack import FountainStack, build

    outdir = tmp_path_factory.mktemp("cdk.out")
    context = {**json.loads((REPO / "cdk.json").read_text())["context"], "aws:cdk:bundling-stacks": []}
    app = cdk.App(
        context=context,
        outdir=str(outdir),
        builtin_cloud_formation_validation=False,
        analytics_reporting=False,
    )
    dev = build(app)
    prod = FountainStack(
        app, "Fountain-prod", settings=Settings(stage="prod", cors_origins=PROD_CORS_ORIGINS)
    )
    synth_error = None
    try:
        app.synth()
    except Exception as error:  # cdk-nag's findings fail the synth; test_compliance shows them
        synth_error = str(error)
    report_file = outdir / "validation-report.json"
    return Synthesized(
        stacks={"dev": dev, "prod": prod},
        templates={
            stage: json.loads((outdir / f"{stack.artifact_id}.template.json").read_text())
            for stage, stack in (("dev", dev), ("prod", prod))
        },
        report=json.loads(report_file.read_text()) if report_file.exists() else {},
        synth_error=synth_error,
        outdir=outdir,
    )
