"""The local server's own promises: it binds to 127.0.0.1 and refuses a port in use clearly."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

from fountain_local.cli import EXIT_UNAVAILABLE
from tests.conftest import REPO


def test_a_port_in_use_is_refused_with_a_clear_message() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "fountain_local.cli", "serve", "--port", str(port)],
            capture_output=True,
            text=True,
            env={**os.environ, "PYTHONPATH": str(REPO)},
            timeout=60,
            check=False,
        )
    assert result.returncode == EXIT_UNAVAILABLE
    assert f"port {port} on 127.0.0.1 is in use" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_default_address_is_loopback() -> None:
    from fountain_local.cli import build_parser

    args = build_parser().parse_args(["serve"])
    assert (args.host, args.port, args.aws_port) == ("127.0.0.1", 3000, 4566)
