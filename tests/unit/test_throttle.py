"""The local server's throttle, on a clock the tests move: the deployed stage's token bucket (burst
= its size, rate = its refill a second), and the gateway answering 429 as API Gateway does."""

from __future__ import annotations

import io
import json
import threading
from typing import Any

import pytest

from fountain_local.server import GatewayApp, TokenBucket, retry_after, stage_throttle
from fountain_saga.topology import THROTTLE_BURST, THROTTLE_RATE_PER_SECOND


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_a_fresh_bucket_lets_its_burst_through_at_once_and_then_says_when_to_come_back() -> None:
    clock = Clock()
    bucket = TokenBucket(50, 100, clock)
    assert [bucket.take() for _ in range(100)] == [0.0] * 100
    assert bucket.take() == pytest.approx(1 / 50)
    assert bucket.take() == pytest.approx(1 / 50)  # a refusal takes nothing


def test_it_refills_at_its_rate_and_never_beyond_its_burst() -> None:
    clock = Clock()
    bucket = TokenBucket(50, 100, clock)
    while bucket.take() == 0:
        pass
    clock.now += 0.5
    assert sum(bucket.take() == 0 for _ in range(100)) == 25
    clock.now += 3600
    assert sum(bucket.take() == 0 for _ in range(1000)) == 100


def test_a_flood_gets_the_burst_and_then_the_rate() -> None:
    clock = Clock()
    bucket = TokenBucket(50, 100, clock)
    admitted = 0
    for _ in range(3000):  # 300 requests a second for 10 s
        admitted += bucket.take() == 0
        clock.now += 1 / 300
    assert admitted == pytest.approx(100 + 50 * 10, abs=1)


def test_acquire_waits_just_long_enough_for_each_token() -> None:
    clock = Clock()
    bucket = TokenBucket(40, 40, clock)
    started = clock.now
    for _ in range(40 + 80):
        bucket.acquire(sleep=clock.sleep)
    # The first 40 at once, then 80 at 40 a second.
    assert clock.now - started == pytest.approx(2.0)


def test_threads_sharing_a_bucket_get_exactly_its_tokens() -> None:
    bucket = TokenBucket(50, 100, Clock())  # a clock that stands still: no refill
    admitted: list[bool] = []
    lock = threading.Lock()
    start = threading.Barrier(16)

    def client() -> None:
        start.wait()
        for _ in range(20):
            ok = bucket.take() == 0
            with lock:
                admitted.append(ok)

    threads = [threading.Thread(target=client) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert admitted.count(True) == 100
    assert len(admitted) == 320


@pytest.mark.parametrize(
    ("wait", "header"), [(0.0001, "1"), (1 / 50, "1"), (1.0, "1"), (1.01, "2"), (7.5, "8")]
)
def test_retry_after_is_whole_seconds_and_never_zero(wait: float, header: str) -> None:
    assert retry_after(wait) == header


@pytest.mark.parametrize(("rate", "burst"), [(0, 100), (-1, 100), (50, 0)])
def test_a_bucket_that_could_never_admit_anything_is_refused(rate: float, burst: int) -> None:
    with pytest.raises(ValueError, match="token bucket"):
        TokenBucket(rate, burst)


def test_the_local_stage_throttles_with_the_deployed_figures() -> None:
    throttle = stage_throttle(True)
    assert throttle is not None
    assert (throttle.rate, throttle.burst) == (THROTTLE_RATE_PER_SECOND, THROTTLE_BURST)
    assert stage_throttle(False) is None


# --- the gateway ------------------------------------------------------------------------------------


class Gateway:
    """A GatewayApp around a handler that counts its calls, spoken to as waitress would."""

    def __init__(self, throttle: TokenBucket | None) -> None:
        self.calls = 0
        self.app = GatewayApp(self._handler, None, lambda _line: None, throttle)

    def _handler(self, _event: dict[str, Any], _context: Any) -> dict[str, Any]:
        self.calls += 1
        return {"statusCode": 200, "headers": {"Content-Type": "application/json"}, "body": '{"plays":[]}'}

    def __call__(self, method: str, target: str = "/plays") -> tuple[int, dict[str, str], bytes]:
        answered: dict[str, Any] = {}

        def start_response(status: str, headers: list[tuple[str, str]]) -> None:
            answered["status"] = int(status.split(maxsplit=1)[0])
            answered["headers"] = dict(headers)

        environ = {"REQUEST_METHOD": method, "REQUEST_URI": target, "wsgi.input": io.BytesIO()}
        body = b"".join(self.app(environ, start_response))
        return answered["status"], answered["headers"], body


def test_past_the_burst_the_gateway_answers_429_in_the_apis_error_shape_without_calling_the_handler() -> None:
    clock = Clock()
    gateway = Gateway(TokenBucket(50, 100, clock))
    statuses = [gateway("GET")[0] for _ in range(100)]
    status, headers, body = gateway("GET")
    assert statuses == [200] * 100 and gateway.calls == 100
    assert status == 429
    assert headers["Content-Type"] == "application/json"
    assert headers["Retry-After"] == "1"
    # As the deployed stage's THROTTLED gateway response (fountain_infra.api) writes it.
    assert json.loads(body) == {"error": {"code": "throttled", "message": "Too Many Requests"}}
    assert gateway.calls == 100
    clock.now += 1 / 50
    assert gateway("GET")[0] == 200


def test_a_throttled_head_has_the_headers_and_no_body() -> None:
    gateway = Gateway(TokenBucket(50, 1, Clock()))
    gateway("GET")
    status, headers, body = gateway("HEAD")
    assert (status, body) == (429, b"")
    assert int(headers["Content-Length"]) > 0 and headers["Retry-After"] == "1"


def test_what_the_gateway_refuses_itself_takes_no_token() -> None:
    gateway = Gateway(TokenBucket(50, 1, Clock()))
    assert gateway("TRACE")[0] == 405
    assert gateway("PROPFIND")[0] == 501
    assert gateway("GET")[0] == 200


def test_without_a_throttle_every_request_reaches_the_handler() -> None:
    gateway = Gateway(None)
    assert {gateway("GET")[0] for _ in range(1000)} == {200}
    assert gateway.calls == 1000
