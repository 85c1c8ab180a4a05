"""Deployment choices read from CDK context, and the ones the app refuses."""

from __future__ import annotations

from typing import Any

import pytest

from fountain_infra.settings import Settings, SettingsError
from fountain_saga import topology


class FakeNode:
    """Just enough of constructs.Node: the context lookups Settings makes."""

    def __init__(self, **context: Any) -> None:
        self.context = context

    def try_get_context(self, key: str) -> Any:
        return self.context.get(key)


def settings(**context: Any) -> Settings:
    return Settings.from_context(FakeNode(**context))  # type: ignore[arg-type]


def test_defaults_are_a_dev_stage_without_fault_injection_or_cors() -> None:
    assert settings() == Settings(stage="dev", fault_injection=False, cors_origins=(), alarm_email=None)


def test_fault_injection_is_on_only_when_asked_for_as_cli_or_json_true() -> None:
    assert settings(faultInjection="true").fault_injection is True
    assert settings(faultInjection=True).fault_injection is True
    assert settings(faultInjection="false").fault_injection is False
    with pytest.raises(SettingsError, match="faultInjection must be true or false"):
        settings(faultInjection="yes")


def test_prod_refuses_fault_injection() -> None:
    with pytest.raises(SettingsError, match="refused for stage prod"):
        settings(stage="prod", faultInjection="true")


def test_an_unknown_stage_or_log_level_is_refused() -> None:
    with pytest.raises(SettingsError, match="stage must be one of dev, prod"):
        settings(stage="staging")
    with pytest.raises(SettingsError, match="logLevel must be one of"):
        settings(logLevel="loud")
    assert settings(logLevel="debug").log_level == "DEBUG"


def test_cors_origins_come_comma_separated_and_never_as_a_wildcard() -> None:
    assert settings(corsOrigins="https://a.example, https://b.example").cors_origins == (
        "https://a.example",
        "https://b.example",
    )
    with pytest.raises(SettingsError, match="must name origins"):
        settings(corsOrigins="*")


def test_removal_policy_and_retention_follow_the_stage() -> None:
    import aws_cdk as cdk

    assert settings(stage="prod").removal_policy == cdk.RemovalPolicy.RETAIN
    assert settings(stage="dev").removal_policy == cdk.RemovalPolicy.DESTROY
    assert settings(stage="prod").state_machine_name == "fountain-create-play-prod"
    assert [settings(stage="dev").machine_name(operation) for operation in topology.OPERATIONS] == [
        "fountain-create-play-dev",
        "fountain-revise-play-dev",
        "fountain-delete-play-dev",
    ]


def test_no_deployment_takes_the_local_servers_stage_name() -> None:
    """The API leaves the stage out of its links for that stage name only (it serves at the root)."""
    with pytest.raises(SettingsError, match="stage must be one of"):
        settings(stage=topology.LOCAL_STAGE)
