"""Shared fixtures. Nothing here talks to real AWS: dummy credentials, no metadata service, and
every AWS call lands in moto (in this process, or the local server on 127.0.0.1) — unless
FOUNTAIN_API_URL points the e2e suite at a deployment the caller chose."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

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
CORPUS = REPO / "tests" / "corpus"
EXAMPLE_PLAY = REPO / "examples" / "the-last-keeper.fountain"


def corpus_text(name: str) -> str:
    """A document of the project's own corpus (tests/corpus), by name without extension."""
    return (CORPUS / f"{name}.fountain").read_text(encoding="utf-8")


def example_text() -> str:
    return EXAMPLE_PLAY.read_text(encoding="utf-8")


def _extra_samples_dir() -> Path | None:
    """Fountain documents from other tools, used when present: $FOUNTAIN_SAMPLES, or
    shared/fountain-samples beside the clone. The repository never depends on them."""
    configured = os.environ.get("FOUNTAIN_SAMPLES")
    candidate = Path(configured) if configured else REPO.parent / "shared" / "fountain-samples"
    return candidate if candidate.is_dir() else None


EXTRA_SAMPLES = _extra_samples_dir()


def extra_samples() -> list[Any]:
    """The extra corpus as test parameters, or one parameter skipped with the reason it is absent.

    A run without the extra corpus reports these tests as skipped (never as passed), and no
    test of the project's own corpus needs it.
    """
    if EXTRA_SAMPLES is None:
        reason = "no extra corpus: set FOUNTAIN_SAMPLES to a folder of .fountain files to run these too"
        return [pytest.param(None, marks=pytest.mark.skip(reason=reason), id="no-extra-corpus")]
    return [
        pytest.param(path, id=f"{path.parent.name}/{path.name}")
        for path in sorted(EXTRA_SAMPLES.rglob("*.fountain"))
    ]


@pytest.fixture(scope="session")
def local_aws() -> Iterator[object]:
    """One local AWS for the session: each test works on plays of its own, with unique ids."""
    from fountain_local.runtime import LocalAws

    with LocalAws(instant_retries=True) as aws:
        yield aws


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The modules marked slow first: `make test` hands whole files to its two pytest-xdist
    workers in this order, so the long ones start at once and the workers end together."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)
