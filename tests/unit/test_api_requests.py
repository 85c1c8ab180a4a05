"""Reading POST /plays, PUT and DELETE /plays/{playId}: what a client can get wrong becomes a 4xx
before anything starts."""

from __future__ import annotations

import base64

import pytest

from fountain_saga.api.errors import ApiError
from fountain_saga.api.requests import (
    MAX_BODY_BYTES,
    read_create_request,
    read_fault,
    read_if_match,
    read_play_request,
)
from fountain_saga.topology import MACHINES, Operation


def _read(headers: dict[str, str], body: bytes, *, injection: bool = True) -> object:
    return read_create_request(headers, base64.b64encode(body).decode(), True, injection_allowed=injection)


def test_json_and_text_bodies_carry_the_play() -> None:
    json_request = _read({"Content-Type": "application/json"}, b'{"fountain": "INT. A", "title": "T"}')
    text_request = _read({"content-type": "text/plain; charset=UTF-8"}, b"INT. A")
    assert (json_request.text, json_request.title) == ("INT. A", "T")  # type: ignore[attr-defined]
    assert (text_request.text, text_request.title) == ("INT. A", None)  # type: ignore[attr-defined]


def test_a_fault_header_is_refused_where_injection_is_disabled() -> None:
    with pytest.raises(ApiError) as error:
        _read({"Content-Type": "text/plain", "X-Fountain-Fail-At": "CreateActs"}, b"INT. A", injection=False)
    assert (error.value.status, error.value.code) == (400, "fault_injection_disabled")
    assert "disabled" in error.value.message


def test_a_fault_header_names_step_and_mode_where_enabled() -> None:
    request = _read(
        {"Content-Type": "text/plain", "X-Fountain-Fail-At": "CreateActs", "X-Fountain-Fail-Mode": "before"},
        b"INT. A",
    )
    assert request.fault.to_event() == {"step": "CreateActs", "mode": "before"}  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("headers", "body", "status", "code"),
    [
        ({"Content-Type": "text/plain"}, b"x" * (MAX_BODY_BYTES + 1), 413, "body_too_large"),
        ({"Content-Type": "text/plain; charset=latin-1"}, b"INT. A", 415, "unsupported_charset"),
        (
            {"Content-Type": "application/json"},
            b'{"fountain": "INT", "title": "' + b"t" * 300 + b'"}',
            400,
            "invalid_body",
        ),
        ({"Content-Type": "application/json"}, b'{"fountain": null}', 400, "invalid_body"),
        (
            {"Content-Type": "text/plain", "Idempotency-Key": "k" * 129},
            b"INT. A",
            400,
            "invalid_idempotency_key",
        ),
        (
            {
                "Content-Type": "text/plain",
                "X-Fountain-Fail-At": "CreateActs",
                "X-Fountain-Fail-Mode": "explode",
            },
            b"INT. A",
            400,
            "unknown_fault_mode",
        ),
    ],
)
def test_each_mistake_has_its_status_and_code(
    headers: dict[str, str], body: bytes, status: int, code: str
) -> None:
    with pytest.raises(ApiError) as error:
        _read(headers, body)
    assert (error.value.status, error.value.code) == (status, code)


def test_a_body_that_is_not_base64_is_a_400() -> None:
    with pytest.raises(ApiError) as error:
        read_create_request({"Content-Type": "text/plain"}, "not base64!!", True, injection_allowed=True)
    assert error.value.status == 400


JSON = {"Content-Type": "application/json"}


@pytest.mark.parametrize(
    ("body", "code", "says"),
    [
        (b'{"fountain": ' + b"[" * 100_000, "invalid_body", "nested more than 32"),
        (b'{"fountain": ' + b"[" * 33 + b"]" * 33 + b"}", "invalid_body", "nested more than 32"),
        (b'{"fountain": ' + b"9" * 5_000 + b"}", "invalid_body", "number of 5,000 characters"),
        (b'{"fountain": 1e' + b"9" * 200 + b"}", "invalid_body", "number of 202 characters"),
        (b'{"fountain": "INT. A", "fountain": "INT. B"}', "invalid_body", "'fountain' more than once"),
        (b'{"fountain": NaN}', "malformed_json", "NaN is not a JSON value"),
        (b'{"fountain": -Infinity}', "malformed_json", "-Infinity is not a JSON value"),
        (b'{"fountain": "INT. A"', "malformed_json", "line 1 column"),
    ],
)
def test_json_past_the_parsers_limits_is_a_400_that_says_which(body: bytes, code: str, says: str) -> None:
    with pytest.raises(ApiError) as error:
        _read(JSON, body)
    assert (error.value.status, error.value.code) == (400, code)
    assert says in error.value.message


def test_json_within_the_limits_is_read() -> None:
    nested_title = b'{"fountain": "INT. A", "title": "T", "x": ' + b"[" * 31 + b"]" * 31 + b"}"
    with pytest.raises(ApiError) as error:
        _read(JSON, nested_title)
    assert "'x' is not a known field" in error.value.message  # parsed, then refused by the schema


# -- If-Match and the faults of each operation ----------------------------------------------------
@pytest.mark.parametrize(
    ("values", "version"),
    [
        ([], None),
        (['"3"'], 3),
        (['W/"3"'], 3),
        ([' "12" '], 12),
        (["*"], None),
        (['"999999999"'], 999_999_999),
    ],
)
def test_if_match_takes_a_version_as_get_sends_it_or_any(values: list[str], version: int | None) -> None:
    assert read_if_match(values) == version


@pytest.mark.parametrize(
    ("values", "says"),
    [
        (["3"], "'3' is not a version"),
        (['"abc"'], "'\"abc\"' is not a version"),
        (['"0"'], "is not a version"),
        (['"03"'], "is not a version"),
        (['"1234567890"'], "is not a version"),
        (['w/"3"'], "is not a version"),
        (['"-1"'], "is not a version"),
        (['"3'], "is not a version"),
        ([""], "If-Match is empty"),
        ([" , "], "If-Match is empty"),
        (['"1", "2"'], "names 2 entity tags"),
        (['"1"', '"2"'], "names 2 entity tags"),
        (['*, "2"'], "names 2 entity tags"),
        (['"' + "9" * 5_000 + '"'], "..."),
    ],
)
def test_a_malformed_if_match_is_a_400_that_shows_the_form(values: list[str], says: str) -> None:
    with pytest.raises(ApiError) as error:
        read_if_match(values)
    assert (error.value.status, error.value.code) == (400, "invalid_if_match")
    assert says in error.value.message
    assert len(error.value.message) < 300


@pytest.mark.parametrize(
    ("operation", "step"),
    [
        ("create", "PublishPlay"),
        ("revise", "SwitchVersion"),
        ("revise", "CleanUpDialogue"),
        ("delete", "ForgetPlay"),
    ],
)
def test_a_fault_names_a_step_of_the_operations_saga(operation: Operation, step: str) -> None:
    fault = read_fault({"x-fountain-fail-at": step, "x-fountain-fail-attempts": "2"}, True, operation)
    assert fault is not None and fault.to_event() == {"step": step, "mode": "partial", "failures": 2}


@pytest.mark.parametrize(
    ("operation", "step"), [("create", "SwitchVersion"), ("revise", "PublishPlay"), ("delete", "CreateActs")]
)
def test_a_step_of_another_operation_is_refused_with_the_operations_steps(
    operation: Operation, step: str
) -> None:
    with pytest.raises(ApiError) as error:
        read_fault({"x-fountain-fail-at": step}, True, operation)
    assert (error.value.status, error.value.code) == (400, "unknown_step")
    assert f"no step of a {operation} saga" in error.value.message
    assert ", ".join(MACHINES[operation].steps) in error.value.message


@pytest.mark.parametrize("attempts", ["0", "-1", "101", "1.5", "two", "", "²", "9" * 5_000])
def test_failing_attempts_are_a_whole_number_from_1_to_100(attempts: str) -> None:
    with pytest.raises(ApiError) as error:
        read_fault(
            {"x-fountain-fail-at": "CleanUpActs", "x-fountain-fail-attempts": attempts}, True, "revise"
        )
    assert (error.value.status, error.value.code) == (400, "invalid_fault")
    assert "from 1 to 100" in error.value.message


@pytest.mark.parametrize("header", ["x-fountain-fail-mode", "x-fountain-fail-attempts"])
def test_how_a_step_fails_needs_the_step(header: str) -> None:
    with pytest.raises(ApiError) as error:
        read_fault({header: "1"}, True, "delete")
    assert (error.value.status, error.value.code) == (400, "invalid_fault")
    assert "X-Fountain-Fail-At" in error.value.message


def test_a_draft_is_read_as_a_play_with_the_revisions_faults() -> None:
    request = read_play_request(
        {
            "Content-Type": "text/plain",
            "X-Fountain-Fail-At": "CleanUpScript",
            "X-Fountain-Fail-Attempts": "3",
        },
        base64.b64encode(b"INT. A").decode(),
        True,
        injection_allowed=True,
        operation="revise",
    )
    assert request.text == "INT. A"
    assert request.fault is not None and request.fault.failures == 3
