"""Errors the API answers with: a status, a stable code and a message a person can act on."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import Response

from fountain_saga.api.responses import compact_json


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}

    def response(self) -> Response[Any]:
        return error_response(self.status, self.code, self.message, self.headers)


def error_response(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> Response[Any]:
    return Response(
        status_code=status,
        content_type="application/json",
        body=compact_json({"error": {"code": code, "message": message}}),
        headers=headers,
    )
