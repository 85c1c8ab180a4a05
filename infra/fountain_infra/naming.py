"""Physical names that survive `cdk destroy` followed by `cdk deploy`.

A retained resource stays behind when its stack goes. Were the next deployment to ask for the same
name, CloudFormation would stop with "already exists"; so where AWS needs a name at all, the name
carries a token of the stack itself, which CloudFormation draws afresh for every stack it creates.
The stack's name and CDK's construct ids cannot serve: they are the same on every deployment.
"""

from __future__ import annotations

import aws_cdk as cdk
from constructs import IConstruct


def deployment_id(scope: IConstruct) -> str:
    """The first group of the UUID that ends the stack's ARN (``...:stack/Fountain-prod/<uuid>``).

    Eight hex digits, the group that changes fastest (CloudFormation's stack ids are time-based
    UUIDs): the same across the stack's updates, new with each stack created, and short enough for
    any name. Only retained leftovers of earlier deployments must differ from it.
    """
    stack_uuid = cdk.Fn.select(2, cdk.Fn.split("/", cdk.Stack.of(scope).stack_id))
    return cdk.Fn.select(0, cdk.Fn.split("-", stack_uuid))


def unique_name(scope: IConstruct, *parts: str) -> str:
    """``parts`` joined with hyphens, then the deployment id: ``Fountain-prod-events-1a2b3c4d``."""
    return cdk.Fn.join("-", [*parts, deployment_id(scope)])
