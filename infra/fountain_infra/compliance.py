"""cdk-nag's AwsSolutions checks, and the one way this app acknowledges a finding.

An acknowledgement sits next to the resource it concerns, names the exact finding (for IAM5,
the exact wildcard) and says why the finding is accepted, so a reviewer reads the reason where
the resource is built.
"""

from __future__ import annotations

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks
from constructs import IConstruct

PACK = "AwsSolutions"


def enable_checks(app: cdk.App) -> None:
    """Run AwsSolutions on every stack at synth; an unacknowledged error fails the synth."""
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))


def arn_of(construct: IConstruct) -> str:
    """How cdk-nag writes a resource's ARN in a finding: ``<LogicalId.Arn>``."""
    resource = construct.node.default_child
    if not isinstance(resource, cdk.CfnElement):
        raise TypeError(f"{construct.node.path} has no CloudFormation resource")
    return f"<{cdk.Stack.of(construct).resolve(resource.logical_id)}.Arn>"


def acknowledge(scope: IConstruct, finding: str, reason: str) -> None:
    """Accept one finding (``AwsSolutions-IAM5[Resource::*]``) on ``scope`` and below."""
    if not finding.startswith(f"{PACK}-"):
        raise ValueError(f"not an {PACK} finding: {finding}")
    cdk.Validations.of(scope).acknowledge(cdk.Acknowledgment(id=f"{PACK}::{finding}", reason=reason))
