"""Calling the API's Lambda handler in this process with API Gateway REST proxy events."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

from fountain_local.lambda_runtime import LocalLambdaContext

PLAY = "INT. KITCHEN - NIGHT\n\nBOB\nHello.\n"


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: str

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def code(self) -> str | None:
        if not self.headers.get("Content-Type", "").startswith("application/json"):
            return None
        error = self.json().get("error") if isinstance(self.json(), dict) else None
        return error["code"] if error else None


def event(
    method: str,
    path: str,
    *,
    query: dict[str, list[str]] | None = None,
    headers: dict[str, str] | None = None,
    body: bytes | None = None,
    stage: str = "local",
    called_path: str | None = None,
) -> dict[str, Any]:
    """What API Gateway sends for a request; ``called_path`` is the path the client used
    (requestContext.path), by default the execute-api URL's ``/{stage}{path}``."""
    headers = headers or {}
    return {
        "resource": "/{proxy+}",
        "path": path,
        "httpMethod": method,
        "headers": headers,
        "multiValueHeaders": {name: [value] for name, value in headers.items()},
        "queryStringParameters": {name: values[-1] for name, values in (query or {}).items()} or None,
        "multiValueQueryStringParameters": query or None,
        "pathParameters": {"proxy": path.lstrip("/")},
        "stageVariables": None,
        "requestContext": {
            "accountId": "123456789012",
            "stage": stage,
            "requestId": "test",
            "httpMethod": method,
            "path": called_path if called_path is not None else f"/{stage}{path}",
            "identity": {"sourceIp": "127.0.0.1"},
        },
        "body": base64.b64encode(body).decode() if body else None,
        "isBase64Encoded": bool(body),
    }


def call(request: dict[str, Any]) -> Answer:
    from fountain_saga.api.handlers import handler

    context = LocalLambdaContext(
        function_name="Api",
        invoked_function_arn="arn:aws:lambda:us-east-1:123456789012:function:Api",
        memory_limit_in_mb=1024,
        timeout_seconds=29,
    )
    result = handler(request, context)  # type: ignore[arg-type]
    headers = dict(result.get("headers") or {})
    for name, values in (result.get("multiValueHeaders") or {}).items():
        headers[name] = values[-1]
    return Answer(result["statusCode"], headers, result.get("body") or "")


def post_play(text: str = PLAY, headers: dict[str, str] | None = None, **kwargs: Any) -> Answer:
    return call(
        event(
            "POST",
            "/plays",
            headers={"Content-Type": "text/plain", **(headers or {})},
            body=text.encode(),
            **kwargs,
        )
    )
