"""Regions as the AWS SDKs resolve them: the environment first, then the profile's config, in the
saga code and in the operator commands; a user whose region is only in ~/.aws/config is never
sent to another one."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from fountain_local.cli import EXIT_CONFIG, CliError, _use_endpoint
from fountain_saga.topology import LOCAL_REGION, aws_region

AGAINST_AWS = argparse.Namespace(
    endpoint_url=None, state_machine_arn="arn:aws:states:eu-west-3:123456789012:stateMachine:x"
)


def test_the_profile_region_is_used_when_the_environment_names_none(aws_config: Path) -> None:
    aws_config.write_text("[default]\nregion = eu-west-3\n")
    assert aws_region() == "eu-west-3"


def test_the_named_profile_region_is_used(aws_config: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    aws_config.write_text("[default]\nregion = eu-west-3\n\n[profile stage]\nregion = ap-south-1\n")
    monkeypatch.setenv("AWS_PROFILE", "stage")
    assert aws_region() == "ap-south-1"


def test_the_environment_comes_before_the_profile(aws_config: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    aws_config.write_text("[default]\nregion = eu-west-3\n")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-west-2")
    assert aws_region() == "us-west-2"
    monkeypatch.setenv("AWS_REGION", "ca-central-1")  # what Lambda sets
    assert aws_region() == "ca-central-1"


def test_with_no_region_anywhere_the_local_stack_region_is_assumed(aws_config: Path) -> None:
    assert aws_region() == LOCAL_REGION


def test_an_operator_command_against_aws_works_in_the_profile_region(aws_config: Path) -> None:
    aws_config.write_text("[default]\nregion = eu-west-3\n")
    _use_endpoint(AGAINST_AWS)
    import boto3

    assert boto3.client("stepfunctions").meta.region_name == "eu-west-3"


def test_an_operator_command_against_aws_with_no_region_says_so(aws_config: Path) -> None:
    with pytest.raises(CliError) as refused:
        _use_endpoint(AGAINST_AWS)
    assert refused.value.code == EXIT_CONFIG
    assert (
        str(refused.value) == "no AWS region: set AWS_REGION, or `region` in your AWS profile (aws configure)"
    )


def test_an_operator_command_against_the_local_stack_uses_its_region(aws_config: Path) -> None:
    aws_config.write_text("[default]\nregion = eu-west-3\n")
    _use_endpoint(argparse.Namespace(endpoint_url="http://127.0.0.1:4566", state_machine_arn=None))
    import boto3

    assert boto3.client("stepfunctions").meta.region_name == LOCAL_REGION
