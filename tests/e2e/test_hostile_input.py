"""A hostile client: inputs built to break a parser, a converter, a signature or the routing. Each is
a 4xx in the API's error shape, with the code docs/openapi.json lists for it, and starts nothing."""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import pytest

from fountain_saga.api.responses import compact_json
from tests.conftest import REPO
from tests.e2e.conftest import Deployment, HttpResponse, newest_play

PLAY = "INT. KITCHEN - NIGHT\n\nBOB\nHello.\n"
JSON = {"Content-Type": "application/json"}
TEXT = {"Content-Type": "text/plain"}
PLAY_ID = "f" * 32
DOCUMENT = json.loads((REPO / "docs" / "openapi.json").read_text())


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _fountain(raw_value: bytes) -> bytes:
    return b'{"fountain": ' + raw_value + b"}"


@dataclass(frozen=True)
class Hostile:
    name: str
    method: str
    path: str
    status: int
    code: str
    body: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)


def _post(name: str, body: bytes, code: str, headers: dict[str, str] = JSON, status: int = 400) -> Hostile:
    return Hostile(name, "POST", "/plays", status, code, body, headers)


def _list(name: str, query: str, code: str) -> Hostile:
    return Hostile(name, "GET", f"/plays?{query}", 400, code)


def _token(name: str, token: str) -> Hostile:
    return _list(name, "nextToken=" + quote(token, safe=""), "invalid_next_token")


HOSTILE = [
    # JSON built to exhaust the parser or the converter
    _post("arrays nested 100,000 deep", _fountain(b"[" * 100_000 + b"]" * 100_000), "invalid_body"),
    _post("objects nested 100,000 deep", b'{"a":' * 100_000 + b"1" + b"}" * 100_000, "invalid_body"),
    _post("1 MB of unclosed brackets", b"[" * 1_000_000, "invalid_body"),
    _post("nesting 33 deep in an unknown field", b'{"x": ' + b"[" * 33 + b"]" * 33 + b"}", "invalid_body"),
    _post("a 5,000-digit number", _fountain(b"9" * 5_000), "invalid_body"),
    _post(
        "a 4,301-digit number as the title",
        b'{"fountain": "INT. A", "title": ' + b"1" * 4_301 + b"}",
        "invalid_body",
    ),
    _post("a 5,000-digit fraction", _fountain(b"0." + b"1" * 5_000), "invalid_body"),
    _post("an exponent past any float", _fountain(b"1e999999999"), "invalid_body"),
    _post("NaN", _fountain(b"NaN"), "malformed_json"),
    _post("-Infinity", _fountain(b"-Infinity"), "malformed_json"),
    _post("a duplicate key", b'{"fountain": "INT. A", "fountain": "INT. B"}', "invalid_body"),
    _post("a byte-order mark before the JSON", "\ufeff".encode() + _fountain(b'"INT. A"'), "malformed_json"),
    _post("a JSON string of 100,000 backslashes", _fountain(b'"' + b"\\" * 100_001), "malformed_json"),
    _post(
        "a UTF-16 charset",
        _fountain(b'"INT. A"'),
        "unsupported_charset",
        {"Content-Type": "application/json; charset=utf-16"},
        415,
    ),
    _post(
        "a non-ASCII Idempotency-Key",
        PLAY.encode(),
        "invalid_idempotency_key",
        {**TEXT, "Idempotency-Key": "clé"},
    ),
    # Numeric query parameters, bounded before they are converted
    _list("a superscript two as limit", "limit=%C2%B2", "invalid_limit"),
    _list("a fullwidth five as limit", "limit=%EF%BC%95", "invalid_limit"),
    _list("an Arabic-Indic three as limit", "limit=%D9%A3", "invalid_limit"),
    _list("a limit of 4,301 digits", "limit=" + "1" * 4_301, "invalid_limit"),
    _list("a limit of 5,000 nines", "limit=" + "9" * 5_000, "invalid_limit"),
    _list("a limit in scientific notation", "limit=1e2", "invalid_limit"),
    _list("a limit in hex", "limit=0x10", "invalid_limit"),
    _list("a limit with a plus", "limit=%2B5", "invalid_limit"),
    _list("a limit with a space", "limit=%205", "invalid_limit"),
    _list("an empty limit", "limit=", "invalid_limit"),
    _list("limit twice", "limit=1&limit=2", "invalid_limit"),
    _list("status twice", "status=RUNNING&status=COMPLETED", "invalid_status"),
    _list("a NUL as status", "status=%00", "invalid_status"),
    _list("nextToken twice", "nextToken=a&nextToken=b", "invalid_next_token"),
    # Page tokens this API never issued
    _token("the unsigned key the API used to accept", _b64(b'{"playId": {"S": "x"}}')),
    _token("valid base64 of other keys", _b64(b'{"secret": {"S": "x"}, "playId": {"S": "y"}}')),
    _token("a deep nesting, signed with zeros", _b64(b"[" * 3_000) + "." + "A" * 43),
    _token("a 5,000-digit number, signed with zeros", _b64(b"9" * 5_000) + "." + "A" * 43),
    _token("5,000 characters", "A" * 5_000),
    _token("non-ASCII", "é" * 40),
    _token("a JSON object, not base64", '{"playId": {"S": "x"}}'),
    # Paths that are no play id, and paths that are no route
    Hostile("a NUL as play id", "GET", "/plays/%00", 400, "invalid_play_id"),
    Hostile("an encoded dot-dot-slash", "GET", "/plays/..%2f", 400, "invalid_play_id"),
    Hostile(
        "dot-dot-slashes to the document", "GET", "/plays/..%2f..%2fopenapi.json", 400, "invalid_play_id"
    ),
    Hostile("a play id of 2,000 characters", "GET", "/plays/" + "a" * 2_000, 400, "invalid_play_id"),
    Hostile("a play id with a NUL after it", "GET", f"/plays/{PLAY_ID}%00/fountain", 400, "invalid_play_id"),
    Hostile("a play id in full-width letters", "GET", "/plays/" + quote("ｆ" * 32), 400, "invalid_play_id"),
    Hostile("a path past the text", "GET", f"/plays/{PLAY_ID}/fountain/more", 404, "not_found"),
    Hostile("an empty play id", "GET", "/plays//fountain", 404, "not_found"),
    Hostile("a route in capitals", "GET", "/PLAYS", 404, "not_found"),
    # Changes to a play: its id, body, If-Match and fault headers are judged before the play is looked up
    Hostile("PUT on a NUL as play id", "PUT", "/plays/%00", 400, "invalid_play_id", PLAY.encode(), TEXT),
    Hostile("DELETE on an encoded dot-dot-slash", "DELETE", "/plays/..%2f", 400, "invalid_play_id"),
    Hostile(
        "PUT with arrays nested 100,000 deep",
        "PUT",
        f"/plays/{PLAY_ID}",
        400,
        "invalid_body",
        _fountain(b"[" * 100_000 + b"]" * 100_000),
        JSON,
    ),
    Hostile(
        "PUT with a 5,000-digit version in If-Match",
        "PUT",
        f"/plays/{PLAY_ID}",
        400,
        "invalid_if_match",
        PLAY.encode(),
        {**TEXT, "If-Match": '"' + "9" * 5_000 + '"'},
    ),
    Hostile(
        "DELETE with 500 versions in If-Match",
        "DELETE",
        f"/plays/{PLAY_ID}",
        400,
        "invalid_if_match",
        headers={"If-Match": ", ".join(f'"{n}"' for n in range(1, 501))},
    ),
    Hostile(
        "DELETE with an unquoted version in If-Match",
        "DELETE",
        f"/plays/{PLAY_ID}",
        400,
        "invalid_if_match",
        headers={"If-Match": "1"},
    ),
    Hostile(
        "DELETE with a 5,000-digit count of failing attempts and no step",
        "DELETE",
        f"/plays/{PLAY_ID}",
        400,
        "invalid_fault",
        headers={"X-Fountain-Fail-Attempts": "9" * 5_000},
    ),
    # Methods a route's path does not take
    *(
        Hostile(f"{method} {label}", method, path, 405, "method_not_allowed")
        for method, path, label in [
            ("DELETE", "/plays", "/plays"),
            ("PUT", "/plays", "/plays"),
            ("PATCH", "/plays", "/plays"),
            ("POST", f"/plays/{PLAY_ID}", "a play"),
            ("PATCH", f"/plays/{PLAY_ID}", "a play"),
            ("PATCH", f"/plays/{PLAY_ID}/fountain", "a play's text"),
            ("POST", f"/plays/{PLAY_ID}/fountain", "a play's text"),
            ("DELETE", f"/plays/{PLAY_ID}/fountain", "a play's text"),
            ("POST", f"/plays/{PLAY_ID}/sagas", "a play's sagas"),
            ("DELETE", f"/plays/{PLAY_ID}/sagas", "a play's sagas"),
        ]
    ),
]
# What each path takes, as the 405's Allow says.
ALLOWED = {"/plays": "GET, HEAD, POST", f"/plays/{PLAY_ID}": "DELETE, GET, HEAD, PUT"}


def _documented(method: str, path: str, status: int, code: str) -> bool:
    if (status, code) in {(404, "not_found"), (405, "method_not_allowed")}:
        return True  # the document's description: any path, any method
    template = re.sub(r"^/plays/[^/?]+", "/plays/{playId}", path.partition("?")[0])
    response = DOCUMENT["paths"][template][method.lower()]["responses"][str(status)]
    return code in response["content"]["application/json"]["examples"]


def _assert_error_shape(response: HttpResponse, status: int, code: str) -> None:
    assert response.status == status, response.text[:500]
    assert response.headers["Content-Type"].startswith("application/json")
    assert response.text == compact_json(response.json())
    error = response.json()["error"]
    assert set(response.json()) == {"error"} and set(error) == {"code", "message"}
    assert error["code"] == code, error
    assert 10 < len(error["message"]) < 400 and "Traceback" not in error["message"]


@pytest.mark.parametrize("case", HOSTILE, ids=[h.name for h in HOSTILE])
def test_a_hostile_request_is_a_documented_4xx_and_starts_nothing(
    case: Hostile, deployment: Deployment
) -> None:
    newest = newest_play(deployment)
    response = deployment.request(case.method, case.path, case.body, case.headers)
    _assert_error_shape(response, case.status, case.code)
    assert _documented(case.method, case.path, case.status, case.code)
    if case.status == 405:
        assert response.headers["Allow"] == ALLOWED.get(case.path, "GET, HEAD")
    assert newest_play(deployment) == newest


@pytest.fixture(scope="module")
def issued_token(deployment: Deployment) -> str:
    """A page token the API issued: the first page of one play, of a listing of at least two."""
    for _ in range(2):
        if deployment.request("GET", "/plays?limit=2").json()["nextToken"]:
            break
        assert deployment.request("POST", "/plays", PLAY.encode(), TEXT).status == 202
    token: Any = deployment.request("GET", "/plays?limit=1").json()["nextToken"]
    assert isinstance(token, str)
    return token


def _altered(token: str) -> list[tuple[str, str]]:
    payload, signature = token.split(".")
    flip = {"A": "B"}
    return [
        ("one byte of the key changed", payload[:-1] + flip.get(payload[-1], "A") + "." + signature),
        ("one byte of the signature changed", payload + "." + signature[:-1] + flip.get(signature[-1], "A")),
        ("another key under its signature", _b64(b'{"playId":{"S":"' + b"0" * 32 + b'"}}') + "." + signature),
        ("cut short", token[:-5]),
        ("one character longer", token + "A"),
        ("its payload alone", payload),
    ]


def test_an_issued_token_reads_back_and_any_alteration_of_it_does_not(
    issued_token: str, deployment: Deployment
) -> None:
    page = deployment.request("GET", "/plays?limit=1&nextToken=" + quote(issued_token, safe=""))
    assert page.status == 200, page.text
    for what, token in _altered(issued_token):
        response = deployment.request("GET", "/plays?limit=1&nextToken=" + quote(token, safe=""))
        assert response.status == 400, what
        _assert_error_shape(response, 400, "invalid_next_token")
    # A token of the listing of all plays, sent with a status filter: another index's key.
    response = deployment.request("GET", "/plays?status=COMPLETED&nextToken=" + quote(issued_token, safe=""))
    _assert_error_shape(response, 400, "invalid_next_token")


def test_at_least_forty_hostile_inputs_are_tried() -> None:
    assert len(HOSTILE) >= 40


def test_the_api_serves_its_openapi_document_and_swagger_ui(deployment: Deployment) -> None:
    served = deployment.request("GET", "/openapi.json")
    assert served.status == 200 and served.json() == DOCUMENT
    docs = deployment.request("GET", "/docs")
    assert docs.status == 200 and docs.headers["Content-Type"].startswith("text/html")
    assert "SwaggerUIBundle" in docs.text
