"""The local server throttles as the deployed stage does: the same figures, from the topology, and
the same 429 body."""

from __future__ import annotations

import json

import pytest

from fountain_local.server import THROTTLED_MESSAGE, error_body, stage_throttle
from fountain_saga import topology
from tests.infra.conftest import Synthesized


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_the_deployed_stage_and_the_local_server_throttle_at_the_topologys_rate_and_burst(
    synth: Synthesized, stage: str
) -> None:
    (api_stage,) = synth.resources("AWS::ApiGateway::Stage", stage).values()
    (settings,) = api_stage["Properties"]["MethodSettings"]
    assert settings["ThrottlingRateLimit"] == topology.THROTTLE_RATE_PER_SECOND
    assert settings["ThrottlingBurstLimit"] == topology.THROTTLE_BURST
    local = stage_throttle(True)
    assert local is not None
    assert (local.rate, local.burst) == (settings["ThrottlingRateLimit"], settings["ThrottlingBurstLimit"])


def test_a_local_429_has_the_body_of_the_deployed_throttled_response(synth: Synthesized) -> None:
    (throttled,) = [
        r["Properties"]
        for r in synth.resources("AWS::ApiGateway::GatewayResponse").values()
        if r["Properties"]["ResponseType"] == "THROTTLED"
    ]
    assert throttled.get("StatusCode", "429") == "429"
    template = throttled["ResponseTemplates"]["application/json"]
    # API Gateway substitutes its message as a quoted JSON string.
    deployed = template.replace("$context.error.messageString", json.dumps(THROTTLED_MESSAGE))
    assert json.loads(error_body(429, THROTTLED_MESSAGE)) == json.loads(deployed)
