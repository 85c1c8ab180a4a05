"""End-to-end tests drive the HTTP API of a running deployment.

With FOUNTAIN_API_URL unset, a fixture starts `fountain-saga serve` on free ports and stops it
afterwards (by its process id). With FOUNTAIN_API_URL set (LocalStack or AWS), the same tests
run against it; requests are signed with SigV4 when FOUNTAIN_API_AUTH=iam (the deployed
default), and rows are checked through the AWS endpoint: FOUNTAIN_AWS_ENDPOINT_URL (omit for
AWS itself) and FOUNTAIN_TABLE_NAMES, a JSON object of the stack's table names
({"script": "...", "acts": "...", ..., "ledger": "..."}; the stack outputs it).
"""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
import pytest

from fountain_saga.saga.ledger import TERMINAL_STATUSES
from fountain_saga.topology import aws_region
from tests.conftest import REPO

if TYPE_CHECKING:
    from fountain_local.server import TokenBucket

REQUEST_TIMEOUT_SECONDS = 2
REQUEST_TIMEOUT = str(REQUEST_TIMEOUT_SECONDS)
ENTITY_KINDS = ("script", "acts", "scenes", "characters", "dialogue", "transitions")
# Retried as AWS's SDKs retry: a 429 always, as the gateway refused it before the function ran; a
# 5xx only when sending the request again cannot start a second saga (so not a POST without an
# Idempotency-Key). Exponential backoff with full jitter, after at least the Retry-After asked for.
RETRIED_STATUSES = frozenset({429, 500, 502, 503, 504})
RETRY_ATTEMPTS = 8
RETRY_BASE_SECONDS = 0.1
RETRY_MAX_DELAY_SECONDS = 10.0


@dataclass
class HttpResponse:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def text(self) -> str:
        return self.body.decode("utf-8")

    def header(self, name: str) -> str | None:
        """A header's value, whatever case the server wrote its name in (waitress writes "Etag")."""
        return next((v for k, v in self.headers.items() if k.lower() == name.lower()), None)


@dataclass
class Deployment:
    api_url: str
    aws_endpoint: str | None
    table_names: dict[str, str]
    sign: bool
    region: str
    # The local server's log (its stdout and stderr), for tests of what it did; None when remote.
    log_path: Path | None = None
    # The local server's process, for tests that stop or kill it; None when remote.
    process: subprocess.Popen[bytes] | None = None
    # Every attempt takes a token first, so that a client of many threads stays under the stage's
    # throttle (dataclasses.replace gives a test its own paced copy).
    pace: TokenBucket | None = None

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
        *,
        retry: bool = True,
    ) -> HttpResponse:
        """The response to this request, retried as RETRIED_STATUSES says unless ``retry`` is False
        (for a test of the 429 or 5xx itself)."""
        headers = headers or {}
        attempt = 1
        response = self._send(method, path, body, headers)
        while retry and attempt < RETRY_ATTEMPTS and _retryable(method, headers, response.status):
            time.sleep(_retry_delay(attempt, response.headers))
            attempt += 1
            response = self._send(method, path, body, headers)
        return response

    def _send(self, method: str, path: str, body: bytes | None, headers: dict[str, str]) -> HttpResponse:
        if self.pace is not None:
            self.pace.acquire()
        url = self.api_url.rstrip("/") + path
        headers = dict(headers)
        if self.sign:  # each attempt anew: a signature holds its X-Amz-Date and expires in minutes
            headers = _signed_headers(method, url, body, headers, self.region)
        request = urllib.request.Request(url, data=body, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return HttpResponse(response.status, dict(response.headers), response.read())
        except urllib.error.HTTPError as error:
            return HttpResponse(error.code, dict(error.headers), error.read())

    def post_play(
        self, text: str, *, headers: dict[str, str] | None = None, title: str | None = None
    ) -> HttpResponse:
        document: dict[str, Any] = {"fountain": text}
        if title is not None:
            document["title"] = title
        return self.request(
            "POST",
            "/plays",
            json.dumps(document).encode(),
            {"Content-Type": "application/json", **(headers or {})},
        )

    def wait(self, play_id: str, timeout: float = 90.0) -> dict[str, Any]:
        """Poll GET /plays/{id} until its latest saga ends (a revision leaves the play COMPLETED
        while it runs, so the saga's status is the one to watch)."""
        deadline = time.monotonic() + timeout
        while True:
            view = self.request("GET", f"/plays/{play_id}")
            assert view.status == 200, view.text
            play: dict[str, Any] = view.json()
            if play["saga"]["status"] in TERMINAL_STATUSES:
                return play
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"play {play_id}'s {play['saga']['operation']} saga still {play['saga']['status']} "
                    f"after {timeout} s"
                )
            time.sleep(0.1)

    def aws_client(self, service: str) -> Any:
        return boto3.client(service, region_name=self.region, endpoint_url=self.aws_endpoint)  # type: ignore[call-overload]

    def execution_arn(self, play_id: str) -> str:
        """The create-play execution of this play, found through the AWS endpoint (the API names none)."""
        sfn = self.aws_client("stepfunctions")
        machines = sfn.list_state_machines()["stateMachines"]
        (machine,) = [m for m in machines if "create-play" in m["name"]]
        return f"{machine['stateMachineArn'].replace(':stateMachine:', ':execution:')}:create-{play_id}"

    def rows_left(self, play_id: str, version: int | None = None) -> dict[str, int]:
        """Rows of this play in each entity table, read through the AWS endpoint, not the API: one
        version's, or (``version`` None) every version's and the play's head."""
        if not self.table_names:
            pytest.fail("FOUNTAIN_TABLE_NAMES is required to check rows against a remote deployment")
        ddb = self.aws_client("dynamodb")
        if version is not None:
            partitions = [f"{play_id}.{version}"]
        else:
            # Versions are numbered from 1 and never twice, a rolled-back draft's included, so every
            # number given is at most the highest of the play's version and its last draft's; one
            # past that too, for a draft whose number the ledger has yet to show.
            partitions = [play_id, *(f"{play_id}.{v}" for v in range(1, self._highest_version(play_id) + 2))]
        counts = dict.fromkeys(ENTITY_KINDS, 0)
        for kind in ENTITY_KINDS:
            for partition in partitions:
                request: dict[str, Any] = {
                    "TableName": self.table_names[kind],
                    "KeyConditionExpression": "playVersion = :p",
                    "ExpressionAttributeValues": {":p": {"S": partition}},
                    "Select": "COUNT",
                    "ConsistentRead": True,
                }
                while True:
                    page = ddb.query(**request)
                    counts[kind] += page["Count"]
                    if "LastEvaluatedKey" not in page:
                        break
                    request["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        return counts

    def _highest_version(self, play_id: str) -> int:
        item = (
            self.aws_client("dynamodb")
            .get_item(
                TableName=self.table_names["ledger"], Key={"playId": {"S": play_id}}, ConsistentRead=True
            )
            .get("Item")
        ) or {}
        draft = item.get("draft", {}).get("M", {}).get("version", {}).get("N", 0)
        return max(int(item.get("version", {}).get("N", 1)), int(draft))


def newest_play(deployment: Deployment) -> str | None:
    """The id of the newest play: another after a request means the request started one. (The
    newest's status may change meanwhile, as a saga an earlier test started ends.)"""
    plays = deployment.request("GET", "/plays?limit=1").json()["plays"]
    return str(plays[0]["playId"]) if plays else None


def _retryable(method: str, headers: dict[str, str], status: int) -> bool:
    if status == 429:
        return True
    keyed = any(name.lower() == "idempotency-key" for name in headers)
    return status in RETRIED_STATUSES and (method != "POST" or keyed)


def _retry_delay(attempt: int, headers: dict[str, str]) -> float:
    """Seconds to wait before attempt ``attempt + 1``.

    Retry-After is a floor, and the jitter is added to it: clients refused together would otherwise
    all come back at the same instant, into the same empty bucket.
    """
    jitter = random.uniform(0, RETRY_BASE_SECONDS * 2 ** (attempt - 1))
    asked = next((v.strip() for k, v in headers.items() if k.lower() == "retry-after"), "")
    # Only the delay-seconds form: neither API Gateway nor the local server sends an HTTP date.
    floor = int(asked) if asked.isascii() and asked.isdigit() else 0
    return min(RETRY_MAX_DELAY_SECONDS, floor + jitter)


def _signed_headers(
    method: str, url: str, body: bytes | None, headers: dict[str, str], region: str
) -> dict[str, str]:
    import botocore.session
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest

    credentials = botocore.session.get_session().get_credentials()
    request = AWSRequest(method=method, url=url, data=body, headers=headers)
    SigV4Auth(credentials, "execute-api", region).add_auth(request)
    return dict(request.headers.items())


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture(scope="session")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    region = aws_region()  # as the SDK resolves it: the environment, then the profile's config
    url = os.environ.get("FOUNTAIN_API_URL")
    if url:
        yield Deployment(
            api_url=url,
            aws_endpoint=os.environ.get("FOUNTAIN_AWS_ENDPOINT_URL"),
            table_names=json.loads(os.environ.get("FOUNTAIN_TABLE_NAMES", "{}")),
            sign=os.environ.get("FOUNTAIN_API_AUTH", "iam") == "iam",
            region=region,
        )
        return
    yield from _local_server(tmp_path_factory.mktemp("serve") / "serve.log", region)


SERVE_ENV = {**os.environ, "PYTHONPATH": str(REPO), "PYTHONUNBUFFERED": "1"}


def serve_command(api_port: int, aws_port: int, data_dir: Path, *extra: str) -> list[str]:
    """`fountain-saga serve` on these ports, as a user would run it, keeping its tables in ``data_dir``."""
    return [
        sys.executable,
        "-m",
        "fountain_local.cli",
        "serve",
        "--port",
        str(api_port),
        "--aws-port",
        str(aws_port),
        "--data-dir",
        str(data_dir),
        *extra,
    ]


def _local_server(log_path: Path, region: str) -> Iterator[Deployment]:
    # A short request timeout, so the test of a client that stops sending mid-request is quick.
    with local_server(
        log_path.parent / "data", log_path, "--request-timeout", REQUEST_TIMEOUT, region=region
    ) as up:
        yield up
    # A clean stop on SIGTERM is part of the contract.
    assert up.process is not None and up.process.returncode == 0, log_path.read_text()
    assert "stopped" in log_path.read_text()


def local_deployment(
    api_port: int, aws_port: int, log_path: Path | None, region: str = "us-east-1"
) -> Deployment:
    """What a test reaches of a `serve` on these ports: its API, its AWS endpoint, its tables."""
    from fountain_local.runtime import local_table_names

    return Deployment(
        api_url=f"http://127.0.0.1:{api_port}",
        aws_endpoint=f"http://127.0.0.1:{aws_port}",
        table_names=local_table_names(),
        sign=False,
        region=region,
        log_path=log_path,
    )


@contextmanager
def local_server(
    data_dir: Path, log_path: Path, *extra: str, region: str = "us-east-1"
) -> Iterator[Deployment]:
    """A `fountain-saga serve` of its own on free ports, stopped by its pid with SIGTERM on the way
    out (unless the test killed it); its output is appended to ``log_path``."""
    api_port, aws_port = free_port(), free_port()
    with log_path.open("a") as log:
        process = subprocess.Popen(
            serve_command(api_port, aws_port, data_dir, *extra),
            stdout=log,
            stderr=subprocess.STDOUT,
            env=SERVE_ENV,
            cwd=REPO,
        )
    up = local_deployment(api_port, aws_port, log_path, region)
    up.process = process
    try:
        wait_until_up(up, process, log_path)
        yield up
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
                pytest.fail(f"fountain-saga serve ignored SIGTERM for 30 s:\n{log_path.read_text()}")


def wait_until_up(deployment: Deployment, process: subprocess.Popen[bytes], log_path: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"fountain-saga serve exited with {process.returncode}:\n{log_path.read_text()}")
        try:
            if deployment.request("GET", "/plays?limit=1").status == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    pytest.fail(f"fountain-saga serve did not answer within 60 s:\n{log_path.read_text()}")
