"""The local server at the edges of HTTP, spoken over a plain socket as a careless or hostile client
would: HEAD, request smuggling, bad and short bodies, methods and sizes the gateway refuses.

Every refusal is the API's JSON error shape, and a refused connection is closed without running
anything else that came on it.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests.e2e.conftest import REQUEST_TIMEOUT_SECONDS, Deployment

# Guards against a server that never answers; no test waits this long when it works.
SOCKET_GUARD_SECONDS = REQUEST_TIMEOUT_SECONDS + 30


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    def error(self) -> dict[str, Any]:
        """The JSON error this reply carries, checked for the API's shape."""
        assert self.headers.get("content-type") == "application/json", self.headers
        document = json.loads(self.body)
        assert set(document) == {"error"} and set(document["error"]) == {"code", "message"}, document
        assert document["error"]["message"]
        return dict(document["error"])


class Connection:
    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.stream = sock.makefile("rb")

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def reply(self, *, head: bool = False) -> Reply:
        status_line = self.stream.readline()
        assert status_line.startswith(b"HTTP/1."), status_line
        headers: dict[str, str] = {}
        while (line := self.stream.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        length = 0 if head else int(headers.get("content-length", "0"))
        return Reply(int(status_line.split()[1]), headers, self.stream.read(length))

    def closed(self) -> bool:
        """Whether the server closed the connection, with nothing more sent on it."""
        return self.stream.read() == b""


@pytest.fixture
def connect(deployment: Deployment) -> Iterator[Any]:
    if deployment.log_path is None:
        pytest.skip("the raw HTTP edges are the local server's; a gateway answers its own way")
    host, _, port = deployment.api_url.removeprefix("http://").rstrip("/").rpartition(":")
    opened: list[socket.socket] = []

    def open_connection() -> Connection:
        sock = socket.create_connection((host, int(port)), timeout=SOCKET_GUARD_SECONDS)
        opened.append(sock)
        return Connection(sock)

    yield open_connection
    for sock in opened:
        sock.close()


def test_head_has_no_body_and_the_connection_serves_the_next_request(connect: Any) -> None:
    connection = connect()
    connection.send(b"HEAD /plays?limit=1 HTTP/1.1\r\nHost: fountain\r\n\r\n")
    head = connection.reply(head=True)
    # Were a body sent after HEAD's headers, the next reply would start with it and not parse.
    connection.send(b"GET /plays?limit=1 HTTP/1.1\r\nHost: fountain\r\n\r\n")
    get = connection.reply()
    assert get.status == 200
    assert "plays" in json.loads(get.body)
    assert head.status == get.status
    assert int(head.headers["content-length"]) == len(get.body)


@pytest.mark.parametrize("length", ["0", "24"])
def test_content_length_with_chunked_is_refused_and_the_smuggled_request_never_runs(
    length: str, connect: Any, deployment: Deployment
) -> None:
    smuggled = "/plays/" + "5" * 32
    connection = connect()
    connection.send(
        f"POST /plays HTTP/1.1\r\nHost: fountain\r\nContent-Type: text/plain\r\n"
        f"Content-Length: {length}\r\nTransfer-Encoding: chunked\r\n\r\n"
        f"0\r\n\r\nGET {smuggled} HTTP/1.1\r\nHost: fountain\r\n\r\n".encode()
    )
    reply = connection.reply()
    assert reply.status == 400
    error = reply.error()
    assert error["code"] == "bad_request"
    assert "Content-Length and Transfer-Encoding" in error["message"]
    assert connection.closed()
    assert deployment.log_path is not None
    assert smuggled not in deployment.log_path.read_text()


@pytest.mark.parametrize("length", ["abc", "-1", "5, 5", "1e3", "0x10", ""])
def test_a_bad_content_length_is_a_400(length: str, connect: Any) -> None:
    connection = connect()
    connection.send(f"POST /plays HTTP/1.1\r\nHost: fountain\r\nContent-Length: {length}\r\n\r\n".encode())
    reply = connection.reply()
    assert reply.status == 400
    assert reply.error()["code"] == "bad_request"
    assert connection.closed()


def test_a_body_shorter_than_its_length_times_out_with_408_and_frees_the_connection(
    connect: Any, deployment: Deployment
) -> None:
    connection = connect()
    connection.send(
        b"POST /plays HTTP/1.1\r\nHost: fountain\r\nContent-Type: text/plain\r\nContent-Length: 100\r\n\r\n"
        b"INT. ROOM"
    )
    reply = connection.reply()
    assert reply.status == 408
    assert reply.error()["code"] == "request_timeout"
    assert connection.closed()
    assert deployment.request("GET", "/plays?limit=1").status == 200


@pytest.mark.parametrize(
    ("method", "status", "code"), [("TRACE", 405, "method_not_allowed"), ("PROPFIND", 501, "not_implemented")]
)
def test_methods_the_gateway_does_not_forward_are_refused_in_json(
    method: str, status: int, code: str, connect: Any
) -> None:
    connection = connect()
    connection.send(f"{method} /plays HTTP/1.1\r\nHost: fountain\r\n\r\n".encode())
    reply = connection.reply()
    assert reply.status == status
    assert reply.error()["code"] == code
    if status == 405:
        assert {"GET", "POST"} <= {m.strip() for m in reply.headers["allow"].split(",")}


@pytest.mark.parametrize(
    ("request_bytes", "status", "code"),
    [
        (
            b"GET /plays HTTP/1.1\r\nHost: fountain\r\nX-Big: " + b"a" * 20_000 + b"\r\n\r\n",
            431,
            "headers_too_large",
        ),
        (b"GET /plays?q=" + b"a" * 9_000 + b" HTTP/1.1\r\nHost: fountain\r\n\r\n", 414, "uri_too_long"),
        (
            b"POST /plays HTTP/1.1\r\nHost: fountain\r\nContent-Length: 10485761\r\n\r\n",
            413,
            "body_too_large",
        ),
        (
            b"POST /plays HTTP/1.1\r\nHost: fountain\r\nContent-Type: text/plain\r\n\r\n",
            411,
            "length_required",
        ),
        (
            b"POST /plays HTTP/1.1\r\nHost: fountain\r\nTransfer-Encoding: gzip\r\n\r\n",
            501,
            "not_implemented",
        ),
        (b"GET /plays HTTP/1.1\r\nHost: fountain\r\nBad Header\r\n\r\n", 400, "bad_request"),
    ],
    ids=["huge headers", "long request line", "body over 10 MB", "no length", "gzip coding", "bad header"],
)
def test_requests_over_the_gateway_limits_or_malformed_are_refused_in_json(
    request_bytes: bytes, status: int, code: str, connect: Any
) -> None:
    connection = connect()
    connection.send(request_bytes)
    reply = connection.reply()
    assert reply.status == status
    assert reply.error()["code"] == code
    assert connection.closed()


def test_a_chunked_body_reaches_the_handler_whole(connect: Any) -> None:
    play = b"INT. ROOM - DAY\n\nBOB\nHello.\n"
    connection = connect()
    connection.send(
        b"POST /plays HTTP/1.1\r\nHost: fountain\r\nContent-Type: text/plain\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n"
        + f"{len(play[:10]):x}\r\n".encode()
        + play[:10]
        + f"\r\n{len(play[10:]):x}\r\n".encode()
        + play[10:]
        + b"\r\n0\r\n\r\n"
    )
    reply = connection.reply()
    assert reply.status == 202, reply.body
    assert json.loads(reply.body)["status"] == "RUNNING"
