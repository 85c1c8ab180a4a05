"""Page tokens: only a token this API issued, for this listing and unaltered, is read back."""

from __future__ import annotations

import base64
import json
from typing import Any

import boto3
import pytest

from fountain_saga.api import page_tokens
from fountain_saga.api.page_tokens import InvalidPageToken
from fountain_saga.topology import PAGE_TOKEN_SECRET_ENV

KEY = b"k" * 32
START = {"playId": {"S": "f" * 32}, "listKey": {"S": "play"}, "createdAt": {"S": "2026-11-29T09:03:30.123Z"}}
ALL = "status=*"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def test_a_token_reads_back_as_the_key_it_was_issued_for() -> None:
    token = page_tokens.sign(START, ALL, key=KEY)
    assert page_tokens.read(token, ALL, key=KEY) == START
    assert len(token) < 300


def _tampered(token: str) -> list[str]:
    payload, signature = token.split(".")
    other = {**START, "playId": {"S": "0" * 32}}
    return [
        payload[:-1] + ("A" if payload[-1] != "A" else "B") + "." + signature,  # one byte of the key
        payload + "." + signature[:-1] + ("A" if signature[-1] != "A" else "B"),  # one of the signature
        _b64(json.dumps(other).encode()) + "." + signature,  # another key under this signature
        payload,  # no signature
        payload + "." + signature + "=",
        " " + token,
    ]


FORGED = [
    "",
    ".",
    "garbage!",
    _b64(json.dumps(START).encode()),  # the key, unsigned: what the API used to accept
    _b64(json.dumps(START).encode()) + "." + "A" * 43,
    _b64(b"[" * 100_000) + "." + "A" * 43,  # deep nesting is never parsed
    _b64(b"1" * 5_000) + "." + "A" * 43,
    "A" * 5_000 + "." + "A" * 43,
    _b64(json.dumps({"secret": {"S": "x"}}).encode()) + "." + "A" * 43,
    "é." + "A" * 43,
]


@pytest.mark.parametrize("token", FORGED + _tampered(page_tokens.sign(START, ALL, key=KEY)))
def test_a_forged_or_altered_token_is_refused(token: str) -> None:
    with pytest.raises(InvalidPageToken):
        page_tokens.read(token, ALL, key=KEY)


def test_a_token_of_one_listing_or_key_is_refused_by_another() -> None:
    token = page_tokens.sign(START, ALL, key=KEY)
    with pytest.raises(InvalidPageToken):
        page_tokens.read(token, "status=RUNNING", key=KEY)
    with pytest.raises(InvalidPageToken):
        page_tokens.read(token, ALL, key=b"o" * 32)


def test_the_key_is_the_deployments_secret_read_once(local_aws: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    secrets = boto3.client("secretsmanager", region_name="us-east-1")
    arn = secrets.create_secret(Name="fountain-test-page-token-key", SecretString="s" * 64)["ARN"]
    monkeypatch.setenv(PAGE_TOKEN_SECRET_ENV, arn)
    page_tokens.signing_key.cache_clear()
    try:
        token = page_tokens.sign(START, ALL)
        secrets.delete_secret(SecretId=arn, ForceDeleteWithoutRecovery=True)
        # Read on first use and kept: the secret is gone and the process still reads its tokens.
        assert page_tokens.read(token, ALL) == START
        with pytest.raises(InvalidPageToken):
            page_tokens.read(page_tokens.sign(START, ALL, key=KEY), ALL)
    finally:
        page_tokens.signing_key.cache_clear()


def test_without_a_deployment_key_each_process_draws_its_own(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(PAGE_TOKEN_SECRET_ENV, "")
    page_tokens.signing_key.cache_clear()
    try:
        first = page_tokens.signing_key()
        assert page_tokens.signing_key() == first and len(first) == 32
        page_tokens.signing_key.cache_clear()  # as a restarted process would
        token = page_tokens.sign(START, ALL, key=first)
        with pytest.raises(InvalidPageToken):
            page_tokens.read(token, ALL)
    finally:
        page_tokens.signing_key.cache_clear()
