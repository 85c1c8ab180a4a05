"""A browser page on an allowed origin can read every answer of the function (success, refusal,
404, 405 and the unexpected 500); a page elsewhere gets none of the CORS headers; and with no origin
configured the API sends none at all, as the deployed dev stage."""

from __future__ import annotations

from typing import Any

import pytest

from fountain_saga.api.cors import (
    EXPOSED_HEADERS,
    InvalidOrigins,
    answer_headers,
    gateway_headers,
    parse_origins,
    preflight_headers,
)
from fountain_saga.topology import CORS_ORIGINS_ENV
from tests.unit.api_calls import call, event, post_play

ORIGINS = "https://plays.example.org,http://localhost:5173"
PLAY_PATH = "/plays/" + "a" * 32


@pytest.fixture
def cors_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(CORS_ORIGINS_ENV, ORIGINS)


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/plays", 200),
        ("GET", PLAY_PATH, 404),  # no such play
        ("GET", "/plays/nope", 400),  # not a play id
        ("PATCH", "/plays", 405),
        ("GET", "/elsewhere", 404),  # no route
        ("POST", "/plays", 415),  # no Content-Type
    ],
)
def test_every_answer_names_a_listed_origin_and_exposes_what_a_script_reads(
    local_aws: Any, cors_on: None, method: str, path: str, status: int
) -> None:
    answer = call(event(method, path, headers={"Origin": "http://localhost:5173"}))
    assert answer.status == status, answer.body
    assert answer.headers["Access-Control-Allow-Origin"] == "http://localhost:5173"
    assert answer.headers["Access-Control-Expose-Headers"] == "Location,ETag,Retry-After"
    assert answer.headers["Vary"] == "Origin"


def test_a_started_play_and_its_etag_are_readable_from_the_page(local_aws: Any, cors_on: None) -> None:
    started = post_play(headers={"origin": "https://plays.example.org"})  # header names are case-blind
    assert started.status == 202
    assert started.headers["Access-Control-Allow-Origin"] == "https://plays.example.org"
    assert "Location" in started.headers["Access-Control-Expose-Headers"].split(",")
    local_aws.wait_for_executions()
    read = call(event("GET", started.headers["Location"], headers={"Origin": "https://plays.example.org"}))
    assert read.headers["ETag"] == '"1"' and "ETag" in read.headers["Access-Control-Expose-Headers"]


def test_an_unexpected_failure_is_readable_too(
    local_aws: Any, cors_on: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fountain_saga.api import app

    def broken(*_: Any, **__: Any) -> Any:
        raise RuntimeError("the ledger is on fire")

    monkeypatch.setattr(app, "list_plays", broken)
    answer = call(event("GET", "/plays", headers={"Origin": "https://plays.example.org"}))
    assert answer.status == 500 and answer.code == "internal_error"
    assert answer.headers["Access-Control-Allow-Origin"] == "https://plays.example.org"


def test_a_page_on_another_origin_is_told_nothing(local_aws: Any, cors_on: None) -> None:
    answer = call(event("GET", "/plays", headers={"Origin": "https://evil.example"}))
    assert answer.status == 200
    assert not [name for name in answer.headers if name.lower().startswith("access-control-")]
    assert answer.headers["Vary"] == "Origin"  # a cache must not give this answer to a listed origin


def test_without_configured_origins_no_answer_carries_cors(local_aws: Any) -> None:
    answer = call(event("GET", "/plays", headers={"Origin": "https://plays.example.org"}))
    assert answer.status == 200
    assert not [name for name in answer.headers if name.lower().startswith("access-control-")]
    assert "Vary" not in answer.headers


def test_origins_are_named_one_by_one_and_never_as_a_wildcard() -> None:
    assert parse_origins(" https://a.example/ , http://localhost:5173") == (
        "https://a.example",
        "http://localhost:5173",
    )
    assert parse_origins("") == parse_origins(None) == ()
    with pytest.raises(InvalidOrigins, match="must name origins"):
        parse_origins("https://a.example,*")
    for wrong in ("localhost:5173", "https://a.example/app", "ftp://a.example", "https://"):
        with pytest.raises(InvalidOrigins, match="is not an origin"):
            parse_origins(wrong)


def test_the_gateways_own_answers_and_the_preflight_name_the_origins_as_the_stack_does() -> None:
    origins = parse_origins(ORIGINS)
    assert gateway_headers(origins) == {
        "Access-Control-Allow-Origin": "https://plays.example.org",
        "Access-Control-Expose-Headers": ",".join(EXPOSED_HEADERS),
        "Vary": "Origin",
    }
    assert gateway_headers(()) == {}
    assert preflight_headers("http://localhost:5173", origins)["Access-Control-Allow-Origin"] == (
        "http://localhost:5173"
    )
    # An origin not listed gets the first, which its browser then refuses: CDK's mock does the same.
    assert preflight_headers("https://evil.example", origins)["Access-Control-Allow-Origin"] == (
        "https://plays.example.org"
    )
    assert "If-Match" in preflight_headers(None, origins)["Access-Control-Allow-Headers"].split(",")
    assert answer_headers({"Origin": "https://plays.example.org"}, ()) == {}
