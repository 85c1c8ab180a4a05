"""``fountain-saga serve``: the HTTP API and the local AWS in one process.

Each HTTP request becomes an API Gateway REST proxy event for the very handler the deployed
stack uses, and the handler's response becomes the HTTP response. Bodies travel base64-encoded,
as API Gateway sends them with binary media types on, so the handler sees the exact bytes.

HTTP itself is waitress (Pylons project, ZPL 2.1, pure Python, no dependencies of its own). It
was chosen over the alternatives for what this server is: a blocking Lambda handler next to an
in-process moto, in one process. Waitress is a WSGI server with a thread pool, so the handler is
called as it is, with no ASGI adapter or event loop around a blocking call (uvicorn, hypercorn);
it runs in a thread of this process, where the local AWS lives (gunicorn forks workers that would
each need their own); its HTTP/1.1 parser has been hardened against request smuggling and slow
clients over years of use in production (Pyramid, Plone) and is still maintained; and it installs
anywhere Python does. What it leaves to us, added below by subclassing its parser, channel, error
task and server:

- every status the server answers by itself is JSON ``{"error": {"code", "message"}}``, the shape
  of the API's own errors (waitress writes text/plain);
- a request with both Content-Length and Transfer-Encoding is refused (400): RFC 9112 lets a
  server pick one, but a proxy in front that picked the other would see a different request;
- 408 for a request not received in full within the request timeout (waitress only closes an
  idle connection, silently), 411 for a body sent without a length, 414 for a long request line;
- API Gateway's limits: 10 MB of body (413), 10,240 bytes of request line and headers (431);
- methods API Gateway does not forward: 405 with ``Allow`` for TRACE and CONNECT, 501 for the
  rest (PROPFIND, ...);
- HEAD answers the headers the handler's response would have, and no body;
- the stage's throttle: past its burst and rate, 429 with ``Retry-After``, the handler not called.
"""

from __future__ import annotations

import base64
import errno
import ipaddress
import json
import logging
import math
import os
import signal
import socket
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http import HTTPStatus
from pathlib import Path
from types import FrameType
from typing import Any, TextIO
from urllib.parse import parse_qs, urlsplit

from waitress import wasyncore
from waitress.adjustments import Adjustments
from waitress.channel import HTTPChannel
from waitress.parser import HTTPRequestParser, ParsingError
from waitress.server import TcpWSGIServer
from waitress.task import ErrorTask
from waitress.utilities import Error, RequestHeaderFieldsTooLarge

from fountain_local.dynamodb_engine import DEFAULT_ENGINE, DataDirLock, DynamoDbEngine, install_amazon
from fountain_local.lambda_runtime import LocalLambdaContext, discard_metrics, show_handler_logs
from fountain_local.runtime import ACCOUNT, REGION, LocalAws
from fountain_saga import topology
from fountain_saga.api import cors
from fountain_saga.topology import LOCAL_STAGE, THROTTLE_BURST, THROTTLE_RATE_PER_SECOND

# API Gateway refuses payloads over 10 MB before any Lambda runs; mirror it.
GATEWAY_MAX_BODY = 10 * 1024 * 1024
# API Gateway REST's quota on the request line and header values together.
GATEWAY_MAX_HEADER_BYTES = 10_240
MAX_REQUEST_LINE = 8_192
# What API Gateway forwards to a Lambda proxy integration (ANY).
GATEWAY_METHODS = ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT")
# Methods HTTP defines that the gateway does not forward: 405. Any other is unknown to it: 501.
KNOWN_METHODS = frozenset(GATEWAY_METHODS) | {"TRACE", "CONNECT"}
BODY_METHODS = frozenset({"PATCH", "POST", "PUT"})
# Framing is waitress's to write; these are not the handler's to set (PEP 3333 forbids them).
HOP_BY_HOP = frozenset(
    {
        "connection",
        "content-length",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailers",
        "transfer-encoding",
        "upgrade",
    }
)
STAGE = LOCAL_STAGE
SHUTDOWN_GRACE_SECONDS = 5.0
# What the stop may take beyond the grace (closing the endpoint, the engine writing its files)
# before it gives up waiting and exits anyway: one Ctrl-C always ends the server.
STOP_OVERRUN_SECONDS = 10.0
LINGER_SECONDS = 2.0
ERROR_CODES = {
    400: "bad_request",
    405: "method_not_allowed",
    408: "request_timeout",
    411: "length_required",
    413: "body_too_large",
    414: "uri_too_long",
    429: "throttled",
    431: "headers_too_large",
    500: "internal_error",
    501: "not_implemented",
    502: "bad_gateway",
}
# API Gateway's message for THROTTLED ($context.error.messageString), in the deployed 429's body.
THROTTLED_MESSAGE = "Too Many Requests"

Log = Callable[[str], None]


class CannotListen(Exception):
    """The address cannot be listened on: the host is not one of this machine's."""


class PortInUse(CannotListen):
    pass


@dataclass(frozen=True)
class ServeOptions:
    host: str = "127.0.0.1"
    port: int = 3000
    aws_port: int = 4566
    fault_injection: bool = True
    step_timeout_seconds: int | None = None
    request_timeout_seconds: int = 30
    idle_timeout_seconds: int = 60
    log_level: str | None = None  # the handlers' own logs: None shows none
    data_dir: Path | None = None  # None: DynamoDB in memory, gone on stop
    dynamodb: str = DEFAULT_ENGINE
    throttle: bool = True  # the deployed stage's rate and burst
    cors_origins: tuple[str, ...] = ()  # browser origins allowed, as the stack's corsOrigins


def is_loopback(host: str) -> bool:
    """Whether ``host`` names only this machine (a non-loopback bind reaches other machines)."""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        pass
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)}
    except OSError:
        return False
    return bool(addresses) and all(ipaddress.ip_address(str(a).split("%")[0]).is_loopback for a in addresses)


def listening_socket(host: str, port: int) -> socket.socket:
    """A socket bound to host:port, not yet listening.

    SO_REUSEADDR lets a restarted server bind while connections of the previous one linger in
    TIME_WAIT; a port another socket listens on is still refused (EADDRINUSE).
    """
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    except socket.gaierror as error:
        raise CannotListen(f"cannot listen on {host}: {error.strerror}") from None
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
    except OSError as error:
        sock.close()
        if error.errno == errno.EADDRINUSE:
            raise PortInUse(f"port {port} on {host} is in use") from None
        if error.errno == errno.EACCES:
            raise PortInUse(f"port {port} on {host} needs privileges this user does not have") from None
        if error.errno == errno.EADDRNOTAVAIL:
            raise CannotListen(f"cannot listen on {host}: it is not an address of this machine") from None
        raise
    return sock


def check_port_free(host: str, port: int) -> None:
    listening_socket(host, port).close()


def proxy_event(
    method: str, raw_path: str, headers: list[tuple[str, str]], body: bytes, source_ip: str
) -> dict[str, Any]:
    """An API Gateway REST (v1) Lambda proxy event for this request."""
    parts = urlsplit(raw_path)
    query = parse_qs(parts.query, keep_blank_values=True)
    single: dict[str, str] = {}
    multi: dict[str, list[str]] = {}
    for name, value in headers:
        single[name] = value
        multi.setdefault(name, []).append(value)
    request_id = str(uuid.uuid4())
    return {
        "resource": "/{proxy+}",
        "path": parts.path,
        "httpMethod": method,
        "headers": single,
        "multiValueHeaders": multi,
        "queryStringParameters": {k: v[-1] for k, v in query.items()} or None,
        "multiValueQueryStringParameters": query or None,
        "pathParameters": {"proxy": parts.path.lstrip("/")},
        "stageVariables": None,
        "requestContext": {
            "accountId": ACCOUNT,
            "apiId": "local",
            "stage": STAGE,
            "requestId": request_id,
            "resourcePath": "/{proxy+}",
            "httpMethod": method,
            "path": f"/{STAGE}{parts.path}",
            "requestTimeEpoch": int(time.time() * 1000),
            "identity": {"sourceIp": source_ip, "userAgent": single.get("User-Agent", "")},
        },
        "body": base64.b64encode(body).decode() if body else None,
        "isBase64Encoded": bool(body),
    }


def error_body(status: int, message: str) -> bytes:
    document = {"error": {"code": ERROR_CODES.get(status, "error"), "message": message}}
    return json.dumps(document, separators=(",", ":")).encode()  # compact, as the API writes JSON


def shown(target: str, limit: int = 200) -> str:
    """A request target short enough for a log line."""
    return target if len(target) <= limit else f"{target[:limit]}… ({len(target):,} characters)"


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


@dataclass
class Sweeper:
    """Runs the sweeper function on the deployed schedule, through the local Lambda, as
    EventBridge does on AWS: interrupted sagas are recovered and owed events published."""

    aws: LocalAws
    log: Log
    interval: float = topology.SWEEP_EVERY_MINUTES * 60

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sweeper", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        lam = self.aws.client("lambda")
        while not self._stop.wait(self.interval):
            answer = lam.invoke(FunctionName=topology.SWEEPER_FUNCTION.name, Payload=b"{}")
            result = json.loads(answer["Payload"].read() or b"{}")
            if answer.get("FunctionError"):
                self.log(f"sweeper failed: {result.get('errorMessage', 'no message')}")
                continue
            found = {key: len(value) for key, value in result.items() if isinstance(value, list)}
            owed = result.get("announcements") or {}
            found |= {f"events {key}": len(value) for key, value in owed.items() if isinstance(value, list)}
            done = {key: count for key, count in found.items() if count}
            if done:
                self.log("sweeper: " + ", ".join(f"{key} {count}" for key, count in sorted(done.items())))


@dataclass
class SagaWatcher:
    """Logs one line when each saga started through this server ends."""

    aws: LocalAws
    log: Log
    interval: float = 0.1

    def __post_init__(self) -> None:
        self._pending: dict[str, float] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="saga-watcher", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def watch(self, play_id: str) -> None:
        with self._lock:
            # A new saga on a play already watched (a PUT right after its POST) restarts its clock.
            self._pending[play_id] = time.monotonic()

    def _run(self) -> None:
        from fountain_saga.saga.ledger import TERMINAL_STATUSES, failure_of, get_entry

        while True:
            stopping = self._stop.wait(self.interval)
            with self._lock:
                pending = dict(self._pending)
            for play_id, started in pending.items():
                entry = get_entry(play_id)
                if entry is None or entry.status not in TERMINAL_STATUSES:
                    continue
                failure = failure_of(entry)
                detail = f" at {failure['step']} ({failure['error']})" if failure else ""
                kind = "" if entry.operation == "create" else f"{entry.operation} "
                took = time.monotonic() - started
                self.log(f"{kind}saga {play_id} {entry.status}{detail} after {took:.2f} s")
                with self._lock:
                    self._pending.pop(play_id, None)
            if stopping:  # after one last look, so a saga that ended while the server stopped is told
                return


# --- the stage's throttle ----------------------------------------------------------------------------


class TokenBucket:
    """API Gateway's throttle: a bucket of ``burst`` tokens, refilled at ``rate`` a second; each
    request takes one, and a request that finds none is refused.

    It starts full, as a stage nobody has called does. Thread-safe: the server's threads share one.
    """

    _TOLERANCE = 1e-9

    def __init__(self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError(f"a token bucket needs a rate above 0 and a burst of 1 or more: {rate}, {burst}")
        self.rate = rate
        self.burst = burst
        self._clock = clock
        self._tokens = float(burst)
        self._updated = clock()
        self._lock = threading.Lock()

    def take(self) -> float:
        """Take a token: 0 if there was one, else the seconds until there will be (nothing is taken)."""
        with self._lock:
            now = self._clock()
            self._tokens = min(float(self.burst), self._tokens + (now - self._updated) * self.rate)
            self._updated = now
            # Refills add up in floating point: a token that is back may be a hair short of 1, and
            # asking for a wait of 1e-17 s would have a client spin on a clock too coarse to show it.
            if self._tokens >= 1 - self._TOLERANCE:
                self._tokens = max(0.0, self._tokens - 1)
                return 0.0
            return (1 - self._tokens) / self.rate

    def acquire(self, sleep: Callable[[float], None] = time.sleep) -> None:
        """Take a token, waiting for one: how a client keeps itself under the limit."""
        while (wait := self.take()) > 0:
            sleep(wait)


def stage_throttle(enabled: bool) -> TokenBucket | None:
    """The deployed stage's throttle, or None to let every request through.

    The stage's default throttle gives each method (resource and verb) a bucket of its own; one
    bucket for them all is stricter, so a client that stays under it here stays under it there.
    """
    return TokenBucket(THROTTLE_RATE_PER_SECOND, THROTTLE_BURST) if enabled else None


def throttle_summary(enabled: bool) -> str:
    if not enabled:
        return "throttle off"
    return f"throttle {THROTTLE_RATE_PER_SECOND} requests/s, burst {THROTTLE_BURST}"


def retry_after(wait: float) -> str:
    """Retry-After for a wait: whole seconds (RFC 9110 has no fractions), never 0, which invites a
    client to come straight back into the same empty bucket."""
    return str(max(1, math.ceil(wait)))


# --- the gateway: one WSGI application in front of the Lambda handler ------------------------------


class GatewayApp:
    """What API Gateway does with a request: the proxy event, the handler, the response."""

    def __init__(
        self,
        api: Callable[[dict[str, Any], Any], dict[str, Any]],
        watcher: SagaWatcher | None,
        log: Log,
        throttle: TokenBucket | None = None,
        cors_origins: tuple[str, ...] = (),
    ) -> None:
        self.api = api
        self.watcher = watcher
        self.log = log
        self.throttle = throttle
        self.cors_origins = cors_origins
        # What API Gateway's own answers carry (its gateway responses), as the stack configures them.
        self.gateway_headers = list(cors.gateway_headers(cors_origins).items())
        self._in_flight = 0
        self._lock = threading.Condition()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        started = time.monotonic()
        method = environ["REQUEST_METHOD"]
        target = environ.get("REQUEST_URI") or environ.get("PATH_INFO", "/")
        with self._counted():
            if method not in GATEWAY_METHODS:
                status, headers, body = self._refuse(method)
                headers.extend(self.gateway_headers)
            elif self.throttle is not None and (wait := self.throttle.take()) > 0:
                status, headers, body = self._throttled(wait)
                headers.extend(self.gateway_headers)
            elif method == "OPTIONS" and self.cors_origins:
                # The stack answers every preflight with a mock integration: no function, no SigV4.
                origin = environ.get("HTTP_ORIGIN")
                status, body = 204, b""
                headers = list(cors.preflight_headers(origin, self.cors_origins).items())
            else:
                status, headers, body = self._invoke(method, target, environ)
        headers.append(("Content-Length", str(len(body))))
        start_response(f"{status} {_reason(status)}", headers)
        note = ""
        if method in ("POST", "PUT", "DELETE") and status == 202:
            play_id = dict(headers).get("Location", "").rsplit("/", 1)[-1]
            if self.watcher is not None:
                self.watcher.watch(play_id)
            note = f" play={play_id}"
        self.log(f"{method} {shown(target)} {status} {1000 * (time.monotonic() - started):.0f} ms{note}")
        return [] if method == "HEAD" else [body]

    def wait_idle(self, deadline: float) -> int:
        """Wait until no request is being answered or the deadline passes; return how many still are."""
        with self._lock:
            while self._in_flight and time.monotonic() < deadline:
                self._lock.wait(max(0.0, deadline - time.monotonic()))
            return self._in_flight

    @contextmanager
    def _counted(self) -> Iterator[None]:
        with self._lock:
            self._in_flight += 1
        try:
            yield
        finally:
            with self._lock:
                self._in_flight -= 1
                self._lock.notify_all()

    @staticmethod
    def _refuse(method: str) -> tuple[int, list[tuple[str, str]], bytes]:
        headers = [("Content-Type", "application/json")]
        if method in KNOWN_METHODS:
            headers.append(("Allow", ", ".join(GATEWAY_METHODS)))
            allowed = ", ".join(GATEWAY_METHODS)
            return 405, headers, error_body(405, f"{method} is not allowed; the API answers {allowed}")
        return 501, headers, error_body(501, f"{method} is not a method this API knows")

    @staticmethod
    def _throttled(wait: float) -> tuple[int, list[tuple[str, str]], bytes]:
        headers = [("Content-Type", "application/json"), ("Retry-After", retry_after(wait))]
        return 429, headers, error_body(429, THROTTLED_MESSAGE)

    def _invoke(
        self, method: str, target: str, environ: dict[str, Any]
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        event = proxy_event(method, target, _request_headers(environ), body, environ.get("REMOTE_ADDR", ""))
        context = LocalLambdaContext(
            function_name="Api",
            invoked_function_arn=f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:Api",
            memory_limit_in_mb=1024,
            timeout_seconds=29,
        )
        try:
            result = self.api(event, context)
        except Exception as error:
            # API Gateway answers a Lambda that raised with a 502 and no detail; so do we.
            self.log(f"{method} {shown(target)}: the handler raised {type(error).__name__}: {error}")
            failed = [("Content-Type", "application/json"), *self.gateway_headers]
            return 502, failed, error_body(502, "the handler failed")
        finally:
            discard_metrics()
        status = int(result.get("statusCode", 502))
        headers: dict[str, list[str]] = {}
        for name, value in (result.get("headers") or {}).items():
            headers[name] = [str(value)]
        for name, values in (result.get("multiValueHeaders") or {}).items():
            headers[name] = [str(v) for v in values]
        payload = result.get("body") or ""
        data = base64.b64decode(payload) if result.get("isBase64Encoded") else payload.encode("utf-8")
        pairs = [(n, v) for n, vs in headers.items() if n.lower() not in HOP_BY_HOP for v in vs]
        return status, pairs, data


def _request_headers(environ: dict[str, Any]) -> list[tuple[str, str]]:
    """The request's headers, named as clients spell them (WSGI keeps only HTTP_UPPER_CASE)."""
    headers = []
    for key, value in environ.items():
        if key.startswith("HTTP_"):
            name = key[5:]
        elif key in ("CONTENT_TYPE", "CONTENT_LENGTH") and value:
            name = key
        else:
            continue
        # Waitress drops any header whose name holds "_", so each "_" here was a "-".
        headers.append(("-".join(part.capitalize() for part in name.split("_")), str(value)))
    return headers


# --- waitress, extended ------------------------------------------------------------------------------


class _RequestTimeout(Error):
    code = 408
    reason = "Request Timeout"


class _LengthRequired(Error):
    code = 411
    reason = "Length Required"


class _UriTooLong(Error):
    code = 414
    reason = "URI Too Long"


class _RequestParser(HTTPRequestParser):
    """Waitress's parser, stricter where a proxy in front could read the request differently."""

    error: Any

    def __init__(self, adj: Adjustments) -> None:
        super().__init__(adj)
        # Created when a request's first byte arrives: the request timeout counts from here.
        self.first_byte_at = time.time()

    def received(self, data: bytes) -> int:
        pending = self.header_plus + data if self.body_rcv is None and not self.completed else b""
        consumed: int = super().received(data)
        if isinstance(self.error, RequestHeaderFieldsTooLarge):
            end = pending.find(b"\r\n")
            if (end if end >= 0 else len(pending)) > MAX_REQUEST_LINE:
                self.error = _UriTooLong(f"the request line is over {MAX_REQUEST_LINE:,} bytes")
        return consumed

    def parse_header(self, header_plus: bytes) -> None:
        try:
            super().parse_header(header_plus)
        except ValueError as error:  # urlsplit's, on a target such as http://[/ (waitress lets it escape)
            raise ParsingError(f"the request target is not a URI: {error}") from None
        framed = self.chunked or "TRANSFER_ENCODING" in self.headers
        if framed and "CONTENT_LENGTH" in self.headers:
            raise ParsingError(
                "Content-Length and Transfer-Encoding together: send one, so the body's end is not ambiguous"
            )
        if len(self.first_line) > MAX_REQUEST_LINE:
            self.error = _UriTooLong(f"the request line is over {MAX_REQUEST_LINE:,} bytes")
        elif self.command in BODY_METHODS and not framed and "CONTENT_LENGTH" not in self.headers:
            self.error = _LengthRequired(f"{self.command} needs a Content-Length (or a chunked body)")


class _JsonErrorTask(ErrorTask):
    """Answers what waitress refuses by itself (a malformed, slow, or oversized request).

    Waitress's own ErrorTask writes ``text/plain``; the channel builds whichever class its
    ``error_task_class`` names, so this one writes the API's JSON error shape instead.
    """

    def execute(self) -> None:
        error: Any = self.request.error
        status = int(error.code)
        message = _error_message(error)
        body = error_body(status, message)
        self.status = f"{status} {error.reason}"
        self.response_headers.append(("Content-Type", "application/json"))
        self.response_headers.extend(self.channel.server.gateway_headers)
        self.set_close_on_finish()
        self.channel.refused = True
        self.content_length = len(body)
        # A request refused before its headers were read in full has no method or target yet (or,
        # over the header limit, the stand-in GET / that waitress gives it).
        read = self.request.headers_finished
        command = getattr(self.request, "command", None) if read else None
        target = getattr(self.request, "request_uri", None) if read else None
        self.write(b"" if command == "HEAD" else body)
        request = f"{command} {shown(target)}" if command and target is not None else "-"
        self.channel.server.log(f"{request} {status} refused by the server: {message}")


def _error_message(error: Any) -> str:
    if error.code == 413:
        return f"the body is over {GATEWAY_MAX_BODY:,} bytes, API Gateway's limit"
    if error.code == 431:
        return f"the request line and headers are over {GATEWAY_MAX_HEADER_BYTES:,} bytes"
    if error.code == 500:
        return "the server failed to answer this request"
    return str(error.body)


class _Channel(HTTPChannel):
    request: Any
    parser_class = _RequestParser
    error_task_class = _JsonErrorTask
    refused = False  # the server answered an error of its own; the client may still be sending
    lingering_until: float | None = None

    def handle_close(self) -> None:
        if not self.refused or self.lingering_until is not None or not self.connected:
            super().handle_close()
            return
        # Closing with the client's bytes unread makes the kernel answer them with a reset, which can
        # reach the client before it reads the error just written. So stop writing, drop what it
        # still sends, and close when it stops or LINGER_SECONDS later (as Apache and nginx do).
        try:
            self.socket.shutdown(socket.SHUT_WR)
        except OSError:
            super().handle_close()
            return
        self.lingering_until = time.time() + LINGER_SECONDS
        self.will_close = self.close_when_flushed = False

    def readable(self) -> bool:
        return True if self.lingering_until is not None else bool(super().readable())

    def writable(self) -> bool:
        return False if self.lingering_until is not None else bool(super().writable())

    def handle_read(self) -> None:
        if self.lingering_until is None:
            super().handle_read()
        else:
            self.recv(self.adj.recv_bytes)  # at the client's end of data, wasyncore calls handle_close

    def time_out(self, reason: str) -> None:
        """Answer the request being received with 408 and close: its client is too slow."""
        with self.requests_lock:
            request = self.request
            if request is None or self.requests:
                return
            request.error = _RequestTimeout(reason)
            request.completed = True
            self.request = None
            self.requests.append(request)
        self.server.add_task(self)


class _WaitressServer(TcpWSGIServer):
    channel_class = _Channel

    def __init__(self, app: GatewayApp, sock: socket.socket, adj: Adjustments, request_timeout: int) -> None:
        self.request_timeout = request_timeout
        self.log = app.log
        self.gateway_headers = app.gateway_headers
        super().__init__(
            app,
            map={},
            _sock=sock,
            adj=adj,
            bind_socket=False,
            sockinfo=(sock.family, sock.type, sock.proto, sock.getsockname()),
        )

    def maintenance(self, now: float) -> None:
        # Waitress closes idle channels silently; a request still arriving too slowly gets a 408.
        idle_cutoff = now - self.adj.channel_timeout
        request_cutoff = now - self.request_timeout
        for channel in list(self.active_channels.values()):
            if channel.lingering_until is not None:
                if now >= channel.lingering_until:
                    channel.handle_close()
                continue
            if channel.requests:
                continue  # a request of this connection is being answered: the client waits on us
            partial = channel.request
            idle = channel.last_activity < idle_cutoff
            if partial is not None and (partial.first_byte_at < request_cutoff or idle):
                channel.time_out(f"the request was not received in full within {self.request_timeout} s")
            elif idle:
                channel.will_close = True

    def stop_accepting(self) -> None:
        def close_listener() -> None:
            self.accepting = False
            wasyncore.dispatcher.close(self)
            for channel in list(self.active_channels.values()):
                if not channel.requests:
                    channel.will_close = True

        self.trigger.pull_trigger(close_listener)

    def close_all(self) -> None:
        self.task_dispatcher.shutdown(cancel_pending=True, timeout=1)
        try:
            self.trigger.pull_trigger(lambda: wasyncore.close_all(self._map))
        except OSError:
            # The loop already ended and closed its trigger (every socket it watched had closed):
            # nothing is left to wake, and what remains in the map is closed from here.
            wasyncore.close_all(self._map)


class ApiServer:
    """The gateway on waitress, on a socket already bound, in a thread of its own."""

    def __init__(
        self, sock: socket.socket, app: GatewayApp, *, request_timeout: int = 30, idle_timeout: int = 60
    ) -> None:
        self.app = app
        adj = Adjustments(
            sockets=[sock],
            threads=16,
            connection_limit=256,
            channel_timeout=idle_timeout,
            # How often timeouts are checked: each second keeps a 408 within a second of its due time.
            cleanup_interval=1,
            max_request_header_size=GATEWAY_MAX_HEADER_BYTES,
            # Waitress refuses a body of max_request_body_size bytes or more; 10 MB itself passes.
            max_request_body_size=GATEWAY_MAX_BODY + 1,
            # The handler sees headers as the client sent them, X-Forwarded-* included.
            clear_untrusted_proxy_headers=False,
            expose_tracebacks=False,
            log_socket_errors=False,
            asyncore_use_poll=True,
            ident="fountain-local",
        )
        self._server = _WaitressServer(app, sock, adj, request_timeout)
        self._thread = threading.Thread(target=self._server.run, name="api", daemon=True)

    @property
    def address(self) -> tuple[str, int]:
        return str(self._server.effective_host), int(self._server.effective_port)

    def start(self) -> None:
        self._thread.start()

    def stop(self, deadline: float) -> int:
        """Stop taking connections, let requests being answered finish until the deadline, close.

        Returns how many requests were still being answered at the deadline.
        """
        self._server.stop_accepting()
        unfinished = self.app.wait_idle(deadline)
        self._server.close_all()
        self._thread.join(timeout=2)
        return unfinished


# --- serve ------------------------------------------------------------------------------------------


def serve(options: ServeOptions, out: TextIO = sys.stdout) -> int:
    """Run until SIGINT or SIGTERM; a second one exits at once. Returns the process exit code."""
    lock = threading.RLock()  # re-entrant: a signal handler may log while the main thread does

    def log(line: str) -> None:
        with lock:
            print(f"{time.strftime('%H:%M:%S')} {line}", file=out, flush=True)

    for name in ("waitress", "waitress.queue"):
        logging.getLogger(name).setLevel(logging.CRITICAL)
    check_port_free("127.0.0.1", options.aws_port)
    sock = listening_socket(options.host, options.port)
    held = DataDirLock(options.data_dir) if options.data_dir is not None else None
    try:
        if held is not None:
            held.acquire()
        if options.dynamodb == "amazon":
            install_amazon(log)
        stop = _StopSignal(log)
        previous = {sig: signal.signal(sig, stop.handle) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            return _serve(options, sock, stop, log)
        finally:
            stop.close()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
    finally:
        sock.close()
        if held is not None:
            held.release()


class _StopSignal:
    """The first SIGINT or SIGTERM asks for a stop; a second one exits at once.

    The handler only writes to a pipe that the main thread reads: a handler runs on the main
    thread wherever it is, even inside an Event's own lock, so it must take no lock itself.
    """

    def __init__(self, log: Log) -> None:
        self.log = log
        self.requested = False
        self._read, self._write = os.pipe()

    def handle(self, signum: int, _frame: FrameType | None) -> None:
        if self.requested:
            try:
                self.log(f"{signal.Signals(signum).name} again: exiting now")
            finally:
                os._exit(128 + signum)
        self.requested = True
        os.write(self._write, b"x")

    def wait(self) -> None:
        os.read(self._read, 1)

    def close(self) -> None:
        os.close(self._read)
        os.close(self._write)


def _serve(options: ServeOptions, sock: socket.socket, stop: _StopSignal, log: Log) -> int:
    engine = DynamoDbEngine(options.dynamodb, options.data_dir)
    aws = LocalAws(
        server_port=options.aws_port,
        fault_injection=options.fault_injection,
        step_timeout_seconds=options.step_timeout_seconds,
        dynamodb=engine,
        cors_origins=options.cors_origins,
    )
    started = time.monotonic()
    try:
        aws.start()
    except BaseException:
        aws.stop(wait_seconds=0)
        raise
    show_handler_logs(options.log_level, sys.stderr)
    from fountain_saga.api.handlers import handler as api_handler
    from fountain_saga.saga.intake import step_timeout
    from fountain_saga.saga.recovery import recover_after_restart

    watcher = SagaWatcher(aws, log)
    watcher.start()
    # Sagas the last stop or crash cut short: the ledger kept them, their executions are gone.
    for recovery in recover_after_restart(aws.resources.state_machine_arn, log):
        if recovery.execution_arn is not None:
            watcher.watch(recovery.play_id)
    sweeper = Sweeper(aws, log)
    sweeper.start()
    server = ApiServer(
        sock,
        GatewayApp(api_handler, watcher, log, stage_throttle(options.throttle), options.cors_origins),
        request_timeout=options.request_timeout_seconds,
        idle_timeout=options.idle_timeout_seconds,
    )
    server.start()
    host, port = server.address
    url = f"http://{'[' + host + ']' if ':' in host else host}:{port}"
    log(f"API on {url}  ·  local AWS on http://127.0.0.1:{options.aws_port}")
    log(f"{engine.describe()}  ·  ready in {time.monotonic() - started:.1f} s")
    faults = "on" if options.fault_injection else "off"
    log(
        f"fault injection {faults}  ·  step timeout {step_timeout()} s  ·  "
        f"{throttle_summary(options.throttle)}  ·  handler logs {options.log_level or 'off'}"
    )
    if options.cors_origins:
        log(f"CORS: browser pages from {', '.join(options.cors_origins)} may call the API")
    log(
        f"try: curl -si -X POST {url}/plays -H 'Content-Type: text/plain' "
        "--data-binary @examples/the-last-keeper.fountain"
    )
    stop.wait()
    stopping_since = time.monotonic()
    deadline = stopping_since + SHUTDOWN_GRACE_SECONDS
    watchdog = threading.Timer(
        SHUTDOWN_GRACE_SECONDS + STOP_OVERRUN_SECONDS, _exit_overrun, args=(engine, log, stopping_since)
    )
    watchdog.daemon = True
    watchdog.start()
    log(
        f"stopping: no new connections; requests and running sagas get {SHUTDOWN_GRACE_SECONDS:g} s "
        "(Ctrl-C again to exit now)"
    )
    unfinished = server.stop(deadline)
    aws.wait_for_executions(timeout=max(0.0, deadline - time.monotonic()))
    running = _running_executions(aws)
    if unfinished or running:
        log(
            f"left {unfinished} request(s) unanswered and {running} saga(s) running; "
            + (
                "the next start on this data dir finishes them"
                if engine.durable
                else "the local AWS and what it held are gone"
            )
        )
    sweeper.stop()
    watcher.stop()
    aws.stop(wait_seconds=0)
    watchdog.cancel()
    log(f"stopped in {time.monotonic() - stopping_since:.1f} s")
    return 0


def _exit_overrun(engine: DynamoDbEngine, log: Log, stopping_since: float) -> None:
    took = time.monotonic() - stopping_since
    try:
        log(f"the stop has taken {took:.0f} s, more than it may: exiting now")
        engine.stop(wait_seconds=2)
    finally:
        os._exit(os.EX_SOFTWARE)


def _running_executions(aws: LocalAws) -> int:
    sfn = aws.client("stepfunctions")
    return sum(
        len(sfn.list_executions(stateMachineArn=arn, statusFilter="RUNNING")["executions"])
        for arn in aws.resources.state_machine_arns.values()
    )
