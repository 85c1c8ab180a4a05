"""The OpenAPI document and the API agree: every route and method, and every status and error code
each route answers, driven through the real handler on the local runtime."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from fountain_saga.api import contract
from fountain_saga.api.app import app
from fountain_saga.api.requests import MAX_BODY_BYTES
from fountain_saga.api.responses import compact_json
from fountain_saga.entities.batch_store import TransientStoreError
from fountain_saga.play import fountain_import
from fountain_saga.saga import intake, play_changes
from fountain_saga.saga.intake import PlayRequest
from fountain_saga.topology import FAULT_INJECTION_ENV
from tests.conftest import REPO
from tests.unit.api_calls import PLAY, Answer, call, event, post_play

DOCUMENT = REPO / "docs" / "openapi.json"
# Served beside the API, not part of it.
DOCUMENTATION_ROUTES = {("GET", "/openapi.json"), ("GET", "/docs")}


def _documented() -> dict[tuple[str, str], dict[str, Any]]:
    document = json.loads(DOCUMENT.read_text())
    return {
        (verb.upper(), path): operation
        for path, operations in document["paths"].items()
        for verb, operation in operations.items()
    }


def _documented_answers() -> set[tuple[str, str, int, str | None]]:
    """(method, path, status, error code): None for a success."""
    answers = set()
    for (verb, path), operation in _documented().items():
        for status, response in operation["responses"].items():
            examples = next(iter(response.get("content", {}).values()), {}).get("examples")
            for code in examples or [None]:
                answers.add((verb, path, int(status), code))
    return answers


def test_the_checked_in_document_is_the_one_the_routes_make() -> None:
    assert DOCUMENT.read_text() == contract.document_text(contract.build_document(app)), (
        "docs/openapi.json is stale: run `make openapi`"
    )


def test_every_route_is_documented_and_every_documented_operation_is_a_route() -> None:
    routes = {
        (route.method, re.sub(r"<(\w+)>", r"{\1}", route.openapi_path))
        for route in app._static_routes + app._dynamic_routes
    }
    assert routes - DOCUMENTATION_ROUTES == set(_documented())


def test_every_error_code_the_handlers_raise_is_one_the_document_knows() -> None:
    raised = set()
    for source in (REPO / "lambdas" / "fountain_saga" / "api").glob("*.py"):
        raised |= {(int(s), c) for s, c in re.findall(r'ApiError\(\s*(\d{3}),\s*"(\w+)"', source.read_text())}
    raised |= {(400, kind.code) for kind in (fountain_import.PlayRejected, fountain_import.PlayTooLarge)}
    assert raised <= {(status, code) for code, (status, _) in contract.ERRORS.items()}
    documented = {(status, code) for _, _, status, code in _documented_answers() if code}
    assert documented == {(status, code) for code, (status, _) in contract.ERRORS.items()}


# -- every documented answer, produced ----------------------------------------------------------
JSON = {"Content-Type": "application/json"}
TEXT = {"Content-Type": "text/plain"}
ROLLED_BACK = {"X-Fountain-Fail-At": "CreateActs", "X-Fountain-Fail-Mode": "before"}


@dataclass(frozen=True)
class Plays:
    completed: str
    rolled_back: str
    revisable: str  # revised by the PUT that answers 202
    deletable: str  # deleted by the DELETE that answers 202
    deleted: str
    busy: str  # a revision holds it, its execution not started until the module ends


@pytest.fixture(scope="module")
def plays(local_aws: Any) -> Iterator[Plays]:
    completed, revisable, deletable, deleted, busy = (post_play().json()["playId"] for _ in range(5))
    rolled_back = post_play(headers=ROLLED_BACK).json()["playId"]
    local_aws.wait_for_executions()
    assert call(event("DELETE", f"/plays/{deleted}")).status == 202
    local_aws.wait_for_executions()
    held: list[tuple[str, str, str, str]] = []
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(play_changes, "start_execution", lambda *args: held.append(args))
        play_changes.start_revision(busy, PlayRequest(PLAY))
    yield Plays(completed, rolled_back, revisable, deletable, deleted, busy)
    # A saga left RUNNING with no execution would be recovered by the sweeper of a later test.
    for args in held:
        intake.start_execution(*args)
    local_aws.wait_for_executions()


def _fails(target: str, error: Exception | None = None) -> Callable[[pytest.MonkeyPatch], None]:
    def patch(monkeypatch: pytest.MonkeyPatch) -> None:
        def broken(*_: Any, **__: Any) -> Any:
            raise error or RuntimeError("the store is down")

        monkeypatch.setattr(target, broken)

    return patch


def _use_key(key: str) -> None:
    assert post_play(headers={"Idempotency-Key": key}).status == 202


def _injection_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(FAULT_INJECTION_ENV, "disabled")


@dataclass(frozen=True)
class Case:
    name: str
    operation: tuple[str, str]
    request: Callable[[Plays], dict[str, Any]]
    status: int
    code: str | None = None
    setup: Callable[[pytest.MonkeyPatch], None] | None = field(default=None, compare=False)


def _post(body: bytes, headers: dict[str, str]) -> Callable[[Plays], dict[str, Any]]:
    return lambda _: event("POST", "/plays", headers=headers, body=body)


def _list(**query: str) -> Callable[[Plays], dict[str, Any]]:
    return lambda _: event("GET", "/plays", query={k: [v] for k, v in query.items()})


def _play(
    which: str, suffix: str = "", method: str = "GET", **kwargs: Any
) -> Callable[[Plays], dict[str, Any]]:
    def request(plays: Plays) -> dict[str, Any]:
        play_id = getattr(plays, which, which)
        return event(method, f"/plays/{play_id}{suffix}", **kwargs)

    return request


def _put(
    which: str, body: bytes = PLAY.encode(), headers: dict[str, str] | None = None
) -> Callable[[Plays], dict[str, Any]]:
    return _play(which, method="PUT", headers={**TEXT, **(headers or {})}, body=body)


def _delete(which: str, headers: dict[str, str] | None = None) -> Callable[[Plays], dict[str, Any]]:
    return _play(which, method="DELETE", headers=headers or {})


def _after(
    first: Callable[[Plays], dict[str, Any]], status: int, then: Callable[[Plays], dict[str, Any]]
) -> Callable[[Plays], dict[str, Any]]:
    """The request ``then``, once ``first`` was answered ``status``."""

    def both(plays: Plays) -> dict[str, Any]:
        answer = call(first(plays))
        assert answer.status == status, answer.body
        return then(plays)

    return both


CREATE = ("POST", "/plays")
LIST = ("GET", "/plays")
VIEW = ("GET", "/plays/{playId}")
REVISE = ("PUT", "/plays/{playId}")
DELETE = ("DELETE", "/plays/{playId}")
SAGAS = ("GET", "/plays/{playId}/sagas")
TEXT_OF = ("GET", "/plays/{playId}/fountain")
MISSING = "f" * 32
CASES = [
    Case("a play", CREATE, _post(PLAY.encode(), TEXT), 202),
    Case("not JSON", CREATE, _post(b"{", JSON), 400, "malformed_json"),
    Case("JSON nested 100,000 deep", CREATE, _post(b"[" * 100_000, JSON), 400, "invalid_body"),
    Case("invalid UTF-8", CREATE, _post(b"INT. CAF\xc9\n", TEXT), 400, "invalid_encoding"),
    Case("blank text", CREATE, _post(b"  \n", TEXT), 400, "empty_play"),
    Case("no play in it", CREATE, _post(b"It rains.\n", TEXT), 400, "invalid_play"),
    Case("a 1 MB line", CREATE, _post(b"INT. A\n\n" + b"x" * 1_000_000, TEXT), 400, "play_too_large"),
    Case(
        "a bad Idempotency-Key",
        CREATE,
        _post(PLAY.encode(), {**TEXT, "Idempotency-Key": "a/b"}),
        400,
        "invalid_idempotency_key",
    ),
    Case(
        "a fault where injection is off",
        CREATE,
        _post(PLAY.encode(), {**TEXT, **ROLLED_BACK}),
        400,
        "fault_injection_disabled",
        _injection_off,
    ),
    Case(
        "an unknown step",
        CREATE,
        _post(PLAY.encode(), {**TEXT, "X-Fountain-Fail-At": "Nope"}),
        400,
        "unknown_step",
    ),
    Case(
        "an unknown fault mode",
        CREATE,
        _post(PLAY.encode(), {**TEXT, "X-Fountain-Fail-At": "CreateActs", "X-Fountain-Fail-Mode": "melt"}),
        400,
        "unknown_fault_mode",
    ),
    Case(
        "a number of failing attempts of 0",
        CREATE,
        _post(PLAY.encode(), {**TEXT, "X-Fountain-Fail-At": "CreateActs", "X-Fountain-Fail-Attempts": "0"}),
        400,
        "invalid_fault",
    ),
    Case(
        "a key reused with another body",
        CREATE,
        _post(b"INT. B\n\nBOB\nBye.\n", {**TEXT, "Idempotency-Key": "contract-reused-key"}),
        409,
        "idempotency_conflict",
        lambda _: _use_key("contract-reused-key"),
    ),
    Case("over 2 MiB", CREATE, _post(b"x" * (MAX_BODY_BYTES + 1), TEXT), 413, "body_too_large"),
    Case("HTML", CREATE, _post(b"<p/>", {"Content-Type": "text/html"}), 415, "unsupported_media_type"),
    Case(
        "Latin-1",
        CREATE,
        _post(b"INT. A", {"Content-Type": "text/plain; charset=latin-1"}),
        415,
        "unsupported_charset",
    ),
    Case(
        "the store down",
        CREATE,
        _post(PLAY.encode(), TEXT),
        500,
        "internal_error",
        _fails("fountain_saga.api.app.start_play"),
    ),
    Case("a page", LIST, _list(limit="2"), 200),
    Case("a page of deleted plays", LIST, _list(status="DELETED"), 200),
    Case("an unknown status", LIST, _list(status="DONE"), 400, "invalid_status"),
    Case("a saga's status, not a play's", LIST, _list(status="CLEANUP_PENDING"), 400, "invalid_status"),
    Case("a superscript limit", LIST, _list(limit="²"), 400, "invalid_limit"),
    Case("a forged token", LIST, _list(nextToken="eyJwbGF5SWQiOnsiUyI6IngifX0"), 400, "invalid_next_token"),
    Case("the store down", LIST, _list(), 500, "internal_error", _fails("fountain_saga.api.app.list_plays")),
    Case("a play", VIEW, _play("completed"), 200),
    Case("a deleted play", VIEW, _play("deleted"), 200),
    Case("not a play id", VIEW, _play("XYZ"), 400, "invalid_play_id"),
    Case("no such play", VIEW, _play(MISSING), 404, "play_not_found"),
    Case(
        "the store down",
        VIEW,
        _play(MISSING),
        500,
        "internal_error",
        _fails("fountain_saga.saga.ledger.get_entry"),
    ),
    Case("a draft", REVISE, _put("revisable", headers={"If-Match": '"1"'}), 202),
    Case("not a play id", REVISE, _put("XYZ"), 400, "invalid_play_id"),
    Case("not JSON", REVISE, _put("completed", b"{", JSON), 400, "malformed_json"),
    Case("JSON that is no play", REVISE, _put("completed", b'{"text": "INT. A"}', JSON), 400, "invalid_body"),
    Case("invalid UTF-8", REVISE, _put("completed", b"INT. CAF\xc9\n"), 400, "invalid_encoding"),
    Case("blank text", REVISE, _put("completed", b"  \n"), 400, "empty_play"),
    Case("no play in it", REVISE, _put("completed", b"It rains.\n"), 400, "invalid_play"),
    Case("a 1 MB line", REVISE, _put("completed", b"INT. A\n\n" + b"x" * 1_000_000), 400, "play_too_large"),
    Case(
        "a bad Idempotency-Key",
        REVISE,
        _put("completed", headers={"Idempotency-Key": "a b"}),
        400,
        "invalid_idempotency_key",
    ),
    Case(
        "an unquoted version", REVISE, _put("completed", headers={"If-Match": "1"}), 400, "invalid_if_match"
    ),
    Case(
        "a fault where injection is off",
        REVISE,
        _put("completed", headers={"X-Fountain-Fail-At": "CreateActs"}),
        400,
        "fault_injection_disabled",
        _injection_off,
    ),
    Case(
        "a step only a create has",
        REVISE,
        _put("completed", headers={"X-Fountain-Fail-At": "PublishPlay"}),
        400,
        "unknown_step",
    ),
    Case(
        "an unknown fault mode",
        REVISE,
        _put("completed", headers={"X-Fountain-Fail-At": "CleanUpActs", "X-Fountain-Fail-Mode": "melt"}),
        400,
        "unknown_fault_mode",
    ),
    Case(
        "failing attempts without a step",
        REVISE,
        _put("completed", headers={"X-Fountain-Fail-Attempts": "2"}),
        400,
        "invalid_fault",
    ),
    Case("no such play", REVISE, _put(MISSING), 404, "play_not_found"),
    Case("a play a revision holds", REVISE, _put("busy"), 409, "saga_in_progress"),
    Case("a rolled-back play", REVISE, _put("rolled_back"), 409, "play_not_complete"),
    Case(
        "a key reused with another draft",
        REVISE,
        _after(
            _put("busy", headers={"Idempotency-Key": "contract-revise-key"}),
            409,
            _put("busy", b"INT. B\n\nBOB\nBye.\n", {"Idempotency-Key": "contract-revise-key"}),
        ),
        409,
        "idempotency_conflict",
    ),
    Case("a deleted play", REVISE, _put("deleted"), 410, "play_deleted"),
    Case(
        "a version it is not at",
        REVISE,
        _put("completed", headers={"If-Match": '"7"'}),
        412,
        "precondition_failed",
    ),
    Case("over 2 MiB", REVISE, _put("completed", b"x" * (MAX_BODY_BYTES + 1)), 413, "body_too_large"),
    Case(
        "HTML",
        REVISE,
        _put("completed", b"<p/>", {"Content-Type": "text/html"}),
        415,
        "unsupported_media_type",
    ),
    Case(
        "Latin-1",
        REVISE,
        _put("completed", headers={"Content-Type": "text/plain; charset=latin-1"}),
        415,
        "unsupported_charset",
    ),
    Case(
        "the store down",
        REVISE,
        _put("completed"),
        500,
        "internal_error",
        _fails("fountain_saga.api.app.start_revision"),
    ),
    Case("a play", DELETE, _delete("deletable"), 202),
    Case("a deleted play, again", DELETE, _delete("deleted"), 202),
    Case("not a play id", DELETE, _delete("XYZ"), 400, "invalid_play_id"),
    Case(
        "a bad Idempotency-Key",
        DELETE,
        _delete("completed", {"Idempotency-Key": "é"}),
        400,
        "invalid_idempotency_key",
    ),
    Case("two versions", DELETE, _delete("completed", {"If-Match": '"1", "2"'}), 400, "invalid_if_match"),
    Case(
        "a fault where injection is off",
        DELETE,
        _delete("completed", {"X-Fountain-Fail-At": "DeleteActs"}),
        400,
        "fault_injection_disabled",
        _injection_off,
    ),
    Case(
        "a step only a create has",
        DELETE,
        _delete("completed", {"X-Fountain-Fail-At": "CreateActs"}),
        400,
        "unknown_step",
    ),
    Case(
        "an unknown fault mode",
        DELETE,
        _delete("completed", {"X-Fountain-Fail-At": "DeleteActs", "X-Fountain-Fail-Mode": "melt"}),
        400,
        "unknown_fault_mode",
    ),
    Case(
        "a fault mode without a step",
        DELETE,
        _delete("completed", {"X-Fountain-Fail-Mode": "before"}),
        400,
        "invalid_fault",
    ),
    Case("no such play", DELETE, _delete(MISSING), 404, "play_not_found"),
    Case("a play a revision holds", DELETE, _delete("busy"), 409, "saga_in_progress"),
    Case(
        "a key reused with another fault",
        DELETE,
        _after(
            _delete("busy", {"Idempotency-Key": "contract-delete-key"}),
            409,
            _delete("busy", {"Idempotency-Key": "contract-delete-key", "X-Fountain-Fail-At": "DeleteActs"}),
        ),
        409,
        "idempotency_conflict",
    ),
    Case(
        "a version it is not at",
        DELETE,
        _delete("completed", {"If-Match": '"7"'}),
        412,
        "precondition_failed",
    ),
    Case(
        "the store down",
        DELETE,
        _delete("completed"),
        500,
        "internal_error",
        _fails("fountain_saga.api.app.start_deletion"),
    ),
    Case("a deleted play's", SAGAS, _play("deleted", "/sagas"), 200),
    Case("a page of one", SAGAS, _play("deleted", "/sagas", query={"limit": ["1"]}), 200),
    Case("limit 0", SAGAS, _play("deleted", "/sagas", query={"limit": ["0"]}), 400, "invalid_limit"),
    Case(
        "a forged token",
        SAGAS,
        _play("deleted", "/sagas", query={"nextToken": ["eyJ9.x"]}),
        400,
        "invalid_next_token",
    ),
    Case("not a play id", SAGAS, _play("XYZ", "/sagas"), 400, "invalid_play_id"),
    Case("no such play", SAGAS, _play(MISSING, "/sagas"), 404, "play_not_found"),
    Case(
        "the store down",
        SAGAS,
        _play("deleted", "/sagas"),
        500,
        "internal_error",
        _fails("fountain_saga.saga.ledger.saga_history"),
    ),
    Case("a completed play", TEXT_OF, _play("completed", "/fountain"), 200),
    Case("not a play id", TEXT_OF, _play("XYZ", "/fountain"), 400, "invalid_play_id"),
    Case("no such play", TEXT_OF, _play(MISSING, "/fountain"), 404, "play_not_found"),
    Case("a rolled-back play", TEXT_OF, _play("rolled_back", "/fountain"), 409, "play_not_complete"),
    Case("a deleted play", TEXT_OF, _play("deleted", "/fountain"), 410, "play_deleted"),
    Case(
        "a play revised while read",
        TEXT_OF,
        _play("completed", "/fountain"),
        503,
        "play_changing",
        _fails(
            "fountain_saga.api.app.read_play", TransientStoreError("play changed 3 times while it was read")
        ),
    ),
    Case(
        "the store down",
        TEXT_OF,
        _play("completed", "/fountain"),
        500,
        "internal_error",
        _fails("fountain_saga.api.app.read_play"),
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[f"{c.operation[0]} {c.operation[1]}: {c.name}" for c in CASES])
def test_each_answer_is_the_documented_one(case: Case, plays: Plays, monkeypatch: pytest.MonkeyPatch) -> None:
    if case.setup:
        case.setup(monkeypatch)
    answer = call(case.request(plays))
    assert (answer.status, answer.code) == (case.status, case.code), answer.body
    assert (*case.operation, answer.status, answer.code) in _documented_answers()
    _assert_compact_json_or_text(answer)


def test_the_cases_produce_every_documented_answer() -> None:
    assert {(*c.operation, c.status, c.code) for c in CASES} == _documented_answers()


def _assert_compact_json_or_text(answer: Answer) -> None:
    if answer.headers["Content-Type"].startswith("application/json"):
        assert answer.body == compact_json(json.loads(answer.body))
        if answer.status >= 400:
            assert set(answer.json()) == {"error"} and set(answer.json()["error"]) == {"code", "message"}
    else:
        assert answer.headers["Content-Type"] == "text/plain; charset=utf-8"


# -- outside the routes: unknown paths, other methods, the document itself ------------------------
@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("DELETE", "/plays", "GET, HEAD, POST"),
        ("PUT", "/plays", "GET, HEAD, POST"),
        ("POST", f"/plays/{MISSING}", "DELETE, GET, HEAD, PUT"),
        ("PATCH", f"/plays/{MISSING}", "DELETE, GET, HEAD, PUT"),
        ("DELETE", f"/plays/{MISSING}/fountain", "GET, HEAD"),
        ("PUT", f"/plays/{MISSING}/sagas", "GET, HEAD"),
        ("POST", "/openapi.json", "GET, HEAD"),
    ],
)
def test_a_method_a_path_does_not_take_is_405_with_allow(
    method: str, path: str, allow: str, local_aws: Any
) -> None:
    answer = call(event(method, path))
    assert (answer.status, answer.code, answer.headers["Allow"]) == (405, "method_not_allowed", allow)
    assert allow in answer.json()["error"]["message"]


def test_an_unknown_path_is_404_whatever_the_method(local_aws: Any) -> None:
    for method in ("GET", "DELETE"):
        answer = call(event(method, "/stages"))
        assert (answer.status, answer.code) == (404, "not_found")


def test_options_says_what_a_path_takes_and_head_answers_as_get(plays: Plays) -> None:
    options = call(event("OPTIONS", "/plays"))
    assert (options.status, options.headers["Allow"], options.body) == (204, "GET, HEAD, POST", "")
    head, get = (call(event(m, f"/plays/{plays.completed}/fountain")) for m in ("HEAD", "GET"))
    assert (head.status, head.headers, head.body) == (get.status, get.headers, get.body)


def test_the_api_serves_its_document_and_swagger_ui(local_aws: Any) -> None:
    served = call(event("GET", "/openapi.json"))
    assert served.status == 200
    assert served.json() == json.loads(DOCUMENT.read_text())
    assert served.body == compact_json(served.json())
    docs = call(event("GET", "/docs"))
    assert (docs.status, docs.headers["Content-Type"]) == (200, "text/html; charset=utf-8")
    assert "SwaggerUIBundle" in docs.body and '"operationId":"createPlay"' in docs.body
