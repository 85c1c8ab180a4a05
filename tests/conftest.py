"""Shared fixtures. Nothing here talks to real AWS: dummy credentials, no metadata service, and
every AWS call lands in moto (in this process, or the local server on 127.0.0.1) — unless
FOUNTAIN_API_URL points the e2e suite at a deployment the caller chose."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

if os.environ.get("FOUNTAIN_API_URL"):
    # The e2e suite against a real deployment signs with the caller's own credentials.
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
else:
    os.environ.update(
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_SESSION_TOKEN="testing",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_EC2_METADATA_DISABLED="true",
    )
    os.environ.pop("AWS_PROFILE", None)

REPO = Path(__file__).resolve().parents[1]


def _samples_dir() -> Path:
    """The shared samples, read in place: $FOUNTAIN_SAMPLES, ../shared beside the clone, or /work/shared."""
    candidates = [REPO.parent / "shared" / "fountain-samples", Path("/work/shared/fountain-samples")]
    if os.environ.get("FOUNTAIN_SAMPLES"):
        candidates.insert(0, Path(os.environ["FOUNTAIN_SAMPLES"]))
    return next((c for c in candidates if c.is_dir()), candidates[0])


SAMPLES = _samples_dir()


def sample_text(name: str) -> str:
    return (SAMPLES / name).read_text(encoding="utf-8")


def all_samples() -> list[Path]:
    return sorted(SAMPLES.glob("*/*.fountain"))


@pytest.fixture(scope="session")
def samples() -> Path:
    if not SAMPLES.is_dir():
        pytest.fail(f"the shared Fountain samples are missing at {SAMPLES} (set FOUNTAIN_SAMPLES)")
    return SAMPLES


@pytest.fixture(scope="session")
def local_aws() -> Iterator[object]:
    """One local AWS for the session: each test works on plays of its own, with unique ids."""
    from fountain_local.runtime import LocalAws

    with LocalAws(instant_retries=True) as aws:
        yield aws
