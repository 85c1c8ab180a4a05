"""``fountain-saga serve``: the HTTP API and the local AWS in one process.

Each HTTP request becomes an API Gateway REST proxy event for the very handler the deployed
stack uses, and the handler's response becomes the HTTP response. Bodies travel base64-encoded,
as API Gateway sends them with binary media types on, so the handler sees the exact bytes.
"""

from __future__ import annotations

import base64
import errno
import signal
import socket
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TextIO
from urllib.parse import parse_qs, urlsplit

from fountain_local.lambda_runtime import LocalLambdaContext, discard_metrics
from fountain_local.runtime import ACCOUNT, REGION, LocalAws

# API Gateway refuses payloads over 10 MB before any Lambda runs; mirror it.
GATEWAY_MAX_BODY = 10 * 1024 * 1024
STAGE = "local"


class PortInUse(Exception):
    pass


def check_port_free(host: str, port: int) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((host, port))
        except OSError as error:
            if error.errno in (errno.EADDRINUSE, errno.EACCES):
                raise PortInUse(f"port {port} on {host} is in use") from None
            raise


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


@dataclass
class SagaWatcher:
    """Logs one line when each saga started through this server ends."""

    aws: LocalAws
    log: Callable[[str], None]
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
            self._pending.setdefault(play_id, time.monotonic())

    def _run(self) -> None:
        from fountain_saga.saga.ledger import TERMINAL_STATUSES, failure_of, get_entry

        while not self._stop.wait(self.interval):
            with self._lock:
                pending = dict(self._pending)
            for play_id, started in pending.items():
                entry = get_entry(play_id)
                if entry is None or entry.status not in TERMINAL_STATUSES:
                    continue
                failure = failure_of(entry)
                detail = f" at {failure['step']} ({failure['error']})" if failure else ""
                self.log(f"saga {play_id} {entry.status}{detail} after {time.monotonic() - started:.2f} s")
                with self._lock:
                    self._pending.pop(play_id, None)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # socketserver's default backlog of 5 resets connections when a few dozen clients arrive at once.
    request_queue_size = 128


def make_handler(
    api: Callable[[dict[str, Any], Any], dict[str, Any]], watcher: SagaWatcher, log: Callable[[str], None]
) -> type[BaseHTTPRequestHandler]:
    class ApiRequestHandler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "fountain-local"

        def _dispatch(self) -> None:
            started = time.monotonic()
            length = int(self.headers.get("Content-Length") or 0)
            if length > GATEWAY_MAX_BODY:
                self._send(413, {"Content-Type": "application/json"}, b'{"message":"Request Too Long"}')
                self.close_connection = True
                return
            body = self.rfile.read(length) if length else b""
            event = proxy_event(
                self.command, self.path, list(self.headers.items()), body, self.client_address[0]
            )
            context = LocalLambdaContext(
                function_name="Api",
                invoked_function_arn=f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:Api",
                memory_limit_in_mb=1024,
                timeout_seconds=29,
            )
            result = api(event, context)
            discard_metrics()
            status = int(result.get("statusCode", 502))
            headers = {**(result.get("headers") or {})}
            for name, values in (result.get("multiValueHeaders") or {}).items():
                headers[name] = values[-1]
            payload = result.get("body") or ""
            data = base64.b64decode(payload) if result.get("isBase64Encoded") else payload.encode("utf-8")
            self._send(status, headers, data)
            note = ""
            if self.command == "POST" and status == 202:
                play_id = headers.get("Location", "").rsplit("/", 1)[-1]
                watcher.watch(play_id)
                note = f" play={play_id}"
            log(f"{self.command} {self.path} {status} {1000 * (time.monotonic() - started):.0f} ms{note}")

        def _send(self, status: int, headers: dict[str, str], data: bytes) -> None:
            self.send_response(status)
            for name, value in headers.items():
                if name.lower() not in ("content-length", "connection"):
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        # http.server looks handlers up by these names.
        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _dispatch  # noqa: N815

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: _dispatch logs one line per request."""

    return ApiRequestHandler


def serve(host: str, port: int, aws_port: int, out: TextIO = sys.stdout) -> int:
    """Run until Ctrl-C or SIGTERM; return the process exit code."""
    lock = threading.Lock()

    def log(line: str) -> None:
        with lock:
            print(f"{time.strftime('%H:%M:%S')} {line}", file=out, flush=True)

    for where, number in ((host, port), ("127.0.0.1", aws_port)):
        check_port_free(where, number)

    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())

    with LocalAws(server_port=aws_port) as aws:
        from fountain_saga.api.handlers import handler as api_handler

        watcher = SagaWatcher(aws, log)
        watcher.start()
        httpd = _Server((host, port), make_handler(api_handler, watcher, log))
        thread = threading.Thread(target=httpd.serve_forever, name="api", daemon=True)
        thread.start()
        log(f"API on http://{host}:{port}  ·  local AWS on http://127.0.0.1:{aws_port}")
        log(
            f"try: curl -si -X POST http://{host}:{port}/plays -H 'Content-Type: text/plain' "
            "--data-binary @examples/the-last-keeper.fountain"
        )
        stop.wait()
        log("stopping: no new requests; waiting for running sagas")
        httpd.shutdown()
        httpd.server_close()
        watcher.stop()
    log("stopped")
    return 0
