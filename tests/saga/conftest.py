"""The deployed sweeper, as the saga tests call it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from fountain_local.lambda_runtime import LocalLambdaContext, resolve_handler
from fountain_local.runtime import ACCOUNT, REGION, LocalAws
from fountain_saga import topology
from fountain_saga.saga import handlers


class Sweeper:
    """The deployed sweeper's handler, called as its schedule calls it, and the metrics of its last run."""

    def __init__(self) -> None:
        self.metrics: dict[str, float] = {}

    def __call__(self) -> dict[str, Any]:
        self.metrics.clear()
        spec = topology.SWEEPER_FUNCTION
        context = LocalLambdaContext(
            spec.name, f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{spec.name}", spec.memory_mb, 60
        )
        result: dict[str, Any] = resolve_handler(spec.handler)({}, context)
        return result

    def record(self, *, name: str, unit: Any, value: float) -> None:
        assert name not in self.metrics, f"{name} reported twice in one run"
        self.metrics[name] = value


@pytest.fixture
def sweeper(monkeypatch: pytest.MonkeyPatch, local_aws: LocalAws) -> Iterator[Sweeper]:
    swept = Sweeper()
    monkeypatch.setattr(handlers.metrics, "add_metric", swept.record)
    yield swept
    # What it started for sagas of other tests ends here, not in the next test.
    local_aws.wait_for_executions()
