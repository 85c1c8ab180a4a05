"""What a deployment may choose, read from CDK context (``cdk deploy -c stage=prod``).

Everything else about the system comes from ``fountain_saga.topology``; these are the few
choices that differ between a developer's stack and production.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import aws_cdk as cdk
from aws_cdk import aws_logs as logs
from constructs import Node

from fountain_saga import topology
from fountain_saga.api.cors import InvalidOrigins, parse_origins

Stage = Literal["dev", "prod"]
STAGES: tuple[Stage, ...] = ("dev", "prod")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


class SettingsError(ValueError):
    """A context value this app refuses; the message says which and why."""


@dataclass(frozen=True)
class Settings:
    stage: Stage = "dev"
    fault_injection: bool = False
    cors_origins: tuple[str, ...] = ()
    alarm_email: str | None = None
    log_level: str = "INFO"

    def __post_init__(self) -> None:
        if self.stage not in STAGES:
            raise SettingsError(f"stage must be one of {', '.join(STAGES)}, not {self.stage!r}")
        if self.fault_injection and self.is_prod:
            # A production request must never be able to break a saga on purpose.
            raise SettingsError("faultInjection=true is refused for stage prod")
        if self.log_level not in LOG_LEVELS:
            raise SettingsError(f"logLevel must be one of {', '.join(LOG_LEVELS)}, not {self.log_level!r}")

    @classmethod
    def from_context(cls, node: Node) -> Settings:
        stage = str(node.try_get_context("stage") or "dev")
        return cls(
            stage=stage,  # type: ignore[arg-type]  # checked in __post_init__
            fault_injection=_flag(node.try_get_context("faultInjection"), "faultInjection"),
            cors_origins=_origins(node.try_get_context("corsOrigins")),
            alarm_email=node.try_get_context("alarmEmail") or None,
            log_level=str(node.try_get_context("logLevel") or "INFO").upper(),
        )

    @property
    def is_prod(self) -> bool:
        return self.stage == "prod"

    @property
    def state_machine_name(self) -> str:
        """The create-play machine's name: the one ARN the functions are given."""
        return self.machine_name("create")

    def machine_name(self, operation: topology.Operation) -> str:
        """Named, so the execution ARNs the API may describe are known at synth time, and alike for
        every operation, so ``topology.machine_arn`` finds the others from the create machine's ARN."""
        return f"{topology.MACHINES[operation].name}-{self.stage}"

    @property
    def removal_policy(self) -> cdk.RemovalPolicy:
        """Production data outlives the stack; a dev stack leaves nothing behind."""
        return cdk.RemovalPolicy.RETAIN if self.is_prod else cdk.RemovalPolicy.DESTROY

    @property
    def log_retention(self) -> logs.RetentionDays:
        return logs.RetentionDays.THREE_MONTHS if self.is_prod else logs.RetentionDays.TWO_WEEKS


def _flag(value: Any, name: str) -> bool:
    # -c on the command line always gives a string; cdk.json may give a real boolean.
    if value is None or value is False or value == "false":
        return False
    if value is True or value == "true":
        return True
    raise SettingsError(f"{name} must be true or false, not {value!r}")


def _origins(value: Any) -> tuple[str, ...]:
    try:
        return parse_origins(value)
    except InvalidOrigins as error:
        raise SettingsError(f"corsOrigins {error}") from None
