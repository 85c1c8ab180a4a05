"""How the API writes what it answers: one JSON style, and the path a client used to reach it."""

from __future__ import annotations

import json
from typing import Any

from fountain_saga.topology import LOCAL_STAGE

# Every JSON body the API writes, success or error, is compact; the resolver serializes route
# results with this too, so no response differs in style from another.
_SEPARATORS = (",", ":")


def compact_json(document: Any) -> str:
    return json.dumps(document, separators=_SEPARATORS)


def base_path(event: dict[str, Any]) -> str:
    """What precedes the API's own paths in the URL the client called: ``/dev`` on the execute-api
    URL, a custom domain's base path, or nothing.

    API Gateway gives the route as ``path`` and the path the client called as
    ``requestContext.path``; the difference is the prefix. The local server serves the API at its
    root but reports its stage (``topology.LOCAL_STAGE``) in ``requestContext.path`` as the
    execute-api URL would; no deployment may take that name (the CDK app's stages are dev and
    prod), so that stage means "no prefix".
    """
    context = event.get("requestContext") or {}
    if context.get("stage") == LOCAL_STAGE:
        return ""
    called = str(context.get("path") or "")
    route = str(event.get("path") or "")
    if not route or not called.endswith(route):
        return ""
    prefix = called[: len(called) - len(route)].rstrip("/")
    return prefix if prefix.startswith("/") else ""
