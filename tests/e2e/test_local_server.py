"""The local server's own promises: it binds to 127.0.0.1, refuses a port in use clearly, stops on
the first signal and starts again at once on the ports it just released."""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from fountain_local.cli import EXIT_UNAVAILABLE
from tests.conftest import REPO
from tests.e2e.conftest import SERVE_ENV, free_port, local_deployment, serve_command, wait_until_up

PLAY = "INT. ROOM - DAY\n\nBOB\nHello.\n"


def test_a_port_in_use_is_refused_with_a_clear_message(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "fountain_local.cli", "serve", "--port", str(port)],
            capture_output=True,
            text=True,
            env={**os.environ, "PYTHONPATH": str(REPO)},
            cwd=tmp_path,
            timeout=60,
            check=False,
        )
    assert result.returncode == EXIT_UNAVAILABLE
    assert result.stderr.splitlines() == [
        f"fountain-saga: port {port} on 127.0.0.1 is in use; stop what uses it or choose another with "
        "--port/--aws-port"
    ]


def test_the_default_address_is_loopback() -> None:
    from fountain_local.cli import build_parser

    args = build_parser().parse_args(["serve"])
    assert (args.host, args.port, args.aws_port) == ("127.0.0.1", 3000, 4566)


def _serve(api_port: int, aws_port: int, out: Path, err: Path, *extra: str) -> subprocess.Popen[bytes]:
    with out.open("w") as stdout, err.open("w") as stderr:
        return subprocess.Popen(
            serve_command(api_port, aws_port, out.parent / "data", *extra),
            stdout=stdout,
            stderr=stderr,
            env=SERVE_ENV,
            cwd=REPO,
        )


def _exit_code(process: subprocess.Popen[bytes], out: Path) -> int:
    """The code of a server told to stop, which must exit within its grace and overrun (15 s)."""
    try:
        return process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        raise AssertionError(
            f"serve did not exit 30 s after the signal; it said:\n{out.read_text()}"
        ) from None


def _json_lines(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.startswith("{")]


def test_serve_stops_on_sigint_with_a_connection_open_and_starts_again_at_once_on_the_same_ports(
    tmp_path: Path,
) -> None:
    api_port, aws_port = free_port(), free_port()
    local = local_deployment(api_port, aws_port, None)
    first_out, first_err = tmp_path / "first.log", tmp_path / "first.err"
    first = _serve(api_port, aws_port, first_out, first_err)
    try:
        wait_until_up(local, first, first_out)
        with socket.create_connection(("127.0.0.1", api_port), timeout=30) as held:
            held.sendall(b"GET /plays?limit=1 HTTP/1.1\r\nHost: fountain\r\n\r\n")
            assert held.recv(12) == b"HTTP/1.1 200"
            first.send_signal(signal.SIGINT)
            assert _exit_code(first, first_out) == 0, first_out.read_text()
    finally:
        first.kill()
    assert "stopped in" in first_out.read_text()

    second_out, second_err = tmp_path / "second.log", tmp_path / "second.err"
    second = _serve(
        api_port,
        aws_port,
        second_out,
        second_err,
        "--no-fault-injection",
        "--step-timeout",
        "7",
        "--log-level",
        "INFO",
    )
    try:
        wait_until_up(local, second, second_out)  # fails at once if the ports were refused
        played = local.post_play(PLAY)
        assert played.status == 202, played.text
        refused = local.post_play(PLAY, headers={"X-Fountain-Fail-At": "CreateActs"})
        assert refused.status == 400, refused.text
    finally:
        second.send_signal(signal.SIGTERM)
        assert _exit_code(second, second_out) == 0, second_out.read_text()
    log = second_out.read_text()
    assert f"saga {played.json()['playId']} COMPLETED" in log  # the running saga was given its seconds
    assert "fault injection off" in log
    assert "step timeout 7 s" in log
    assert not any(line.startswith("{") for line in log.splitlines())  # stdout stays readable lines
    assert {entry["level"] for entry in _json_lines(second_err)} >= {"INFO"}


def test_a_stop_that_overruns_says_so_ends_the_engine_and_exits_with_a_software_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from fountain_local import server
    from fountain_local.dynamodb_engine import DynamoDbEngine

    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    engine = DynamoDbEngine("dynalite", None, _process=child)
    said: list[str] = []

    class Exited(Exception):
        pass

    def exit_now(code: int) -> None:
        raise Exited(code)

    monkeypatch.setattr(server.os, "_exit", exit_now)
    try:
        with pytest.raises(Exited) as exited:
            server._exit_overrun(engine, said.append, time.monotonic() - 15.2)
    finally:
        child.kill()
    assert exited.value.args == (os.EX_SOFTWARE,)
    assert said == ["the stop has taken 15 s, more than it may: exiting now"]
    assert child.returncode == -signal.SIGTERM  # the engine was asked to write its files and go


def test_with_cors_origins_serve_answers_the_preflight_and_its_own_errors_as_the_stack_does(
    tmp_path: Path,
) -> None:
    from fountain_saga.api.cors import preflight_headers

    page = "http://localhost:5173"
    api_port, aws_port = free_port(), free_port()
    local = local_deployment(api_port, aws_port, None)
    out, err = tmp_path / "serve.log", tmp_path / "serve.err"
    server = _serve(api_port, aws_port, out, err, "--cors-origins", f"{page},https://plays.example.org")
    try:
        wait_until_up(local, server, out)
        assert (
            f"CORS: browser pages from {page}, https://plays.example.org may call the API" in out.read_text()
        )

        def answer(method: str, path: str) -> tuple[int, dict[str, str]]:
            connection = http.client.HTTPConnection("127.0.0.1", api_port, timeout=30)
            connection.request(method, path, headers={"Origin": page, "Access-Control-Request-Method": "PUT"})
            response = connection.getresponse()
            response.read()
            connection.close()
            return response.status, dict(response.getheaders())

        status, headers = answer("OPTIONS", "/plays/" + "a" * 32)
        assert status == 204
        assert {k: v for k, v in headers.items() if k.startswith(("Access-Control-", "Vary"))} == (
            preflight_headers(page, (page, "https://plays.example.org"))
        )
        for method, path, expected in (("GET", "/plays", 200), ("BREW", "/plays", 501)):
            status, headers = answer(method, path)  # the function's answer, then the gateway's own
            assert (status, headers["Access-Control-Allow-Origin"]) == (expected, page)
        # What the server refuses before any gateway logic: a header line without its colon.
        with socket.create_connection(("127.0.0.1", api_port), timeout=30) as raw:
            raw.sendall(
                b"GET /plays HTTP/1.1\r\nHost: fountain\r\nOrigin: " + page.encode() + b"\r\nbroken\r\n\r\n"
            )
            refused = raw.recv(4096).decode()
        status_line, *header_lines = refused.split("\r\n\r\n")[0].split("\r\n")
        assert status_line.split()[1] == "400", refused
        assert f"Access-Control-Allow-Origin: {page}" in header_lines
    finally:
        server.send_signal(signal.SIGTERM)
        assert _exit_code(server, out) == 0, out.read_text()
