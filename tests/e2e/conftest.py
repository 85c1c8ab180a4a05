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
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest

from fountain_saga.saga.ledger import TERMINAL_STATUSES
from tests.conftest import REPO

REQUEST_TIMEOUT_SECONDS = 2
ENTITY_KINDS = ("script", "acts", "scenes", "characters", "dialogue", "transitions")


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


@dataclass
class Deployment:
    api_url: str
    aws_endpoint: str | None
    table_names: dict[str, str]
    sign: bool
    region: str
    # The local server's log (its stdout and stderr), for tests of what it did; None when remote.
    log_path: Path | None = None

    def request(
        self, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None
    ) -> HttpResponse:
        url = self.api_url.rstrip("/") + path
        headers = dict(headers or {})
        if self.sign:
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
        """Poll GET /plays/{id} until the saga ends."""
        deadline = time.monotonic() + timeout
        while True:
            view = self.request("GET", f"/plays/{play_id}")
            assert view.status == 200, view.text
            play: dict[str, Any] = view.json()
            if play["status"] in TERMINAL_STATUSES:
                return play
            if time.monotonic() > deadline:
                raise AssertionError(f"play {play_id} still {play['status']} after {timeout} s")
            time.sleep(0.1)

    def aws_client(self, service: str) -> Any:
        return boto3.client(service, region_name=self.region, endpoint_url=self.aws_endpoint)  # type: ignore[call-overload]

    def execution_arn(self, play_id: str) -> str:
        """The create-play execution of this play, found through the AWS endpoint (the API names none)."""
        sfn = self.aws_client("stepfunctions")
        machines = sfn.list_state_machines()["stateMachines"]
        (machine,) = [m for m in machines if "create-play" in m["name"]]
        return f"{machine['stateMachineArn'].replace(':stateMachine:', ':execution:')}:create-{play_id}"

    def rows_left(self, play_id: str) -> dict[str, int]:
        """Rows of this play in each entity table, read through the AWS endpoint, not the API."""
        if not self.table_names:
            pytest.fail("FOUNTAIN_TABLE_NAMES is required to check rows against a remote deployment")
        ddb = self.aws_client("dynamodb")
        counts = {}
        for kind in ENTITY_KINDS:
            page = ddb.query(
                TableName=self.table_names[kind],
                KeyConditionExpression="playId = :p",
                ExpressionAttributeValues={":p": {"S": play_id}},
                Select="COUNT",
                ConsistentRead=True,
            )
            counts[kind] = page["Count"]
        return counts


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
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
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


def serve_command(api_port: int, aws_port: int, *extra: str) -> list[str]:
    """`fountain-saga serve` on these ports, as a user would run it."""
    return [
        sys.executable,
        "-m",
        "fountain_local.cli",
        "serve",
        "--port",
        str(api_port),
        "--aws-port",
        str(aws_port),
        *extra,
    ]


def _local_server(log_path: Path, region: str) -> Iterator[Deployment]:
    from fountain_local.runtime import local_table_names

    api_port, aws_port = free_port(), free_port()
    with log_path.open("w") as log:
        process = subprocess.Popen(
            # A short request timeout, so the test of a client that stops sending mid-request is quick.
            serve_command(api_port, aws_port, "--request-timeout", str(REQUEST_TIMEOUT_SECONDS)),
            stdout=log,
            stderr=subprocess.STDOUT,
            env=SERVE_ENV,
            cwd=REPO,
        )
    deployment = Deployment(
        api_url=f"http://127.0.0.1:{api_port}",
        aws_endpoint=f"http://127.0.0.1:{aws_port}",
        table_names=local_table_names(),
        sign=False,
        region=region,
        log_path=log_path,
    )
    try:
        wait_until_up(deployment, process, log_path)
        yield deployment
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            pytest.fail(f"fountain-saga serve ignored SIGTERM for 30 s:\n{log_path.read_text()}")
        # A clean stop on SIGTERM is part of the contract.
        assert process.returncode == 0, log_path.read_text()
        assert "stopped" in log_path.read_text()


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
