"""`fountain-saga stuck` and `resume` retry what AWS throttles: their clients are in botocore's
standard retry mode (jittered exponential backoff), unless the user chose otherwise."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import boto3
import pytest

from fountain_local.cli import AWS_MAX_ATTEMPTS, _use_endpoint


def _operator_command_retries() -> Any:
    """How a client made as the saga code makes it (boto3, no config of its own) retries."""
    _use_endpoint(argparse.Namespace(endpoint_url="http://127.0.0.1:4566", state_machine_arn=None))
    client = boto3.session.Session().client("stepfunctions", region_name="us-east-1")
    return client.meta.config.retries


@pytest.mark.usefixtures("aws_config")
def test_stuck_and_resume_retry_in_standard_mode() -> None:
    assert _operator_command_retries() == {"mode": "standard", "total_max_attempts": AWS_MAX_ATTEMPTS}


def test_a_retry_mode_set_in_the_environment_is_kept(
    aws_config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_RETRY_MODE", "adaptive")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "2")
    assert _operator_command_retries() == {"mode": "adaptive", "total_max_attempts": 2}


def test_a_retry_mode_set_in_the_profile_is_kept(aws_config: Path) -> None:
    aws_config.write_text("[default]\nretry_mode = adaptive\nmax_attempts = 9\n")
    assert _operator_command_retries() == {"mode": "adaptive", "total_max_attempts": 9}
