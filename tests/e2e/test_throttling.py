"""The local server throttles as the deployed stage does: a burst past the stage's limits gets 429s
in the API's error shape with a Retry-After, a client that retries gets through, and
`serve --no-throttle` lets everything through. Each test runs a server of its own, so the suite's
server keeps its tokens."""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

from fountain_saga.topology import THROTTLE_BURST, THROTTLE_RATE_PER_SECOND
from tests.e2e.conftest import Deployment, HttpResponse, local_server

BURST = 300
CLIENT_THREADS = 30


@contextmanager
def _server(log_path: Path, *extra: str) -> Iterator[Deployment]:
    with local_server(log_path.parent / "data", log_path, "--in-memory", *extra) as up:
        yield up
    assert up.process is not None and up.process.returncode == 0, log_path.read_text()


def _burst(local: Deployment, count: int, *, retry: bool) -> tuple[list[HttpResponse], float]:
    """``count`` reads sent at once from many threads, and the seconds they took."""
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=CLIENT_THREADS) as pool:
        responses = list(
            pool.map(lambda _: local.request("GET", "/plays?limit=1", retry=retry), range(count))
        )
    return responses, time.monotonic() - started


def test_a_burst_past_the_limits_gets_429s_and_a_client_that_retries_gets_through(tmp_path: Path) -> None:
    with _server(tmp_path / "serve.log") as local:
        responses, seconds = _burst(local, BURST, retry=False)
        throttled = [r for r in responses if r.status == 429]
        admitted = [r for r in responses if r.status == 200]
        assert len(throttled) + len(admitted) == BURST, {r.status for r in responses}
        # The burst goes through at once (less the token the start-up check took), then the rate.
        assert THROTTLE_BURST - 1 <= len(admitted) <= THROTTLE_BURST + THROTTLE_RATE_PER_SECOND * seconds + 1
        assert throttled
        for response in throttled:
            assert response.headers["Content-Type"] == "application/json"
            assert response.json() == {"error": {"code": "throttled", "message": "Too Many Requests"}}
            assert response.headers["Retry-After"].isdigit() and int(response.headers["Retry-After"]) >= 1

        # Straight after, into the bucket the burst emptied: a burst and a second's worth more.
        retried, _ = _burst(local, THROTTLE_BURST + THROTTLE_RATE_PER_SECOND, retry=True)
        assert {r.status for r in retried} == {200}
    log = (tmp_path / "serve.log").read_text()
    assert f"throttle {THROTTLE_RATE_PER_SECOND} requests/s, burst {THROTTLE_BURST}" in log
    assert " 429 " in log


def test_no_throttle_lets_every_request_of_a_burst_through(tmp_path: Path) -> None:
    with _server(tmp_path / "serve.log", "--no-throttle") as local:
        responses, _ = _burst(local, BURST, retry=False)
    assert [r.status for r in responses] == [200] * BURST
    assert "throttle off" in (tmp_path / "serve.log").read_text()
