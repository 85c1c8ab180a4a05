"""Lambda entry point of the HTTP API: wiring only."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from fountain_saga.api.app import app
from fountain_saga.api.cors import answer_headers, configured_origins

logger = Logger()
tracer = Tracer()
metrics = Metrics()


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    metrics.add_metric(name="ApiRequests", unit=MetricUnit.Count, value=1)
    if event.get("httpMethod") == "HEAD":
        # HEAD is answered as GET (RFC 9110): the same status and headers. The body stays, so the
        # Content-Length the server sends is GET's; the server (API Gateway, or the local one)
        # sends no body to a HEAD.
        event = {**event, "httpMethod": "GET"}
    response: dict[str, Any] = app.resolve(event, context)
    # Here, not per route, so errors, 404s and 405s carry them too: a browser reads those as well.
    cors_headers = answer_headers(event.get("headers"), configured_origins())
    if cors_headers:
        multi = response.setdefault("multiValueHeaders", {})
        for name, value in cors_headers.items():
            multi[name] = [value]
    return response
