"""`fountain-saga`, as a user runs it: exit codes, one-line errors, progress, Ctrl-C, the JSON summary,
and creating, revising and deleting a play kept by a running `serve`."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from fountain_local import cli
from fountain_local.cli import (
    EXIT_BY_STATUS,
    EXIT_CONFIG,
    EXIT_DATA,
    EXIT_INTERRUPTED,
    EXIT_NO_INPUT,
    EXIT_NO_PERMISSION,
    EXIT_SOFTWARE,
    EXIT_UNREACHABLE,
    EXIT_USAGE,
    main,
)
from tests.conftest import EXAMPLE_PLAY, REPO
from tests.e2e.conftest import Deployment, local_server
from tests.unit.conftest import AWS_VARIABLES

pytestmark = pytest.mark.slow

PLAY_ID = "0123456789abcdef0123456789abcdef"


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "fountain_local.cli", *args],
        capture_output=True,
        text=True,
        env={**(os.environ if env is None else env), "PYTHONPATH": str(REPO)},
        timeout=120,
        check=False,
    )


def _json_lines(text: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def test_create_prints_a_json_summary_and_exits_0() -> None:
    result = _cli("create", str(EXAMPLE_PLAY), "--json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["status"] == "COMPLETED"
    assert summary["counts"] == {"acts": 2, "scenes": 4, "characters": 2, "dialogue": 17, "transitions": 2}
    assert summary["failedStep"] is None
    assert summary["stateTransitions"] == 17
    assert summary["elapsedSeconds"] > 0
    # The handlers' own logs are off unless asked for.
    assert result.stderr == ""


def test_a_rollback_shows_each_compensation_and_each_retry_with_its_error_and_backoff() -> None:
    result = _cli(
        "create",
        str(EXAMPLE_PLAY),
        "--fail-at",
        "CreateDialogue",
        "--fail-compensation",
        "DeleteActs:2",
        "--log-level",
        "INFO",
    )
    assert result.returncode == 1, result.stderr
    lines = result.stdout.splitlines()
    assert any("CreateDialogue" in line and "FAILED" in line for line in lines)
    compensations = [line.split()[1] for line in lines if line.strip().startswith("↩")]
    assert compensations == [
        "DeleteDialogue",
        "DeleteCharacters",
        "DeleteScenes",
        "DeleteActs",
        "DeleteScript",
    ]
    retries = [line for line in lines if line.strip().startswith("↻")]
    pattern = r"↻ DeleteActs +attempt (\d) failed \(InjectedFault\); attempt (\d) after (\d+\.\d\d) s backoff"
    matches = [re.search(pattern, line) for line in retries]
    assert [(m.group(1), m.group(2)) for m in matches if m] == [("1", "2"), ("2", "3")], retries
    assert "ROLLED_BACK" in result.stdout
    # --log-level INFO: the handlers' Powertools JSON logs, on stderr only, and nothing else there.
    logs = _json_lines(result.stderr)
    assert "INFO" in {entry["level"] for entry in logs}
    assert len(logs) == len(result.stderr.splitlines())
    assert _json_lines(result.stdout) == []


def test_a_hung_step_shows_that_it_still_runs_and_ctrl_c_ends_create_at_once_with_130() -> None:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "fountain_local.cli",
            "create",
            str(EXAMPLE_PLAY),
            "--fail-at",
            "CreateActs",
            "--fail-mode",
            "timeout",
            "--step-timeout",
            "90",
            "--progress-every",
            "0.25",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert process.stdout is not None
    seen = []
    try:
        for line in process.stdout:
            seen.append(line)
            if "still running after 0.5 s" in line:
                break
        process.send_signal(signal.SIGINT)
        # Well inside the step's 90 s: Ctrl-C does not wait for the hung step.
        out, err = process.communicate(timeout=30)
    finally:
        process.kill()
    seen.append(out)
    assert process.returncode == EXIT_INTERRUPTED
    assert re.search(r"… CreateActs +still running after 0\.25 s\n", "".join(seen))
    assert err.splitlines() == [
        "fountain-saga: interrupted while CreateActs was running; "
        "the saga ran in this process and ended with it"
    ]


@pytest.fixture
def files(tmp_path: Path) -> dict[str, str]:
    latin1 = tmp_path / "latin1.fountain"
    latin1.write_bytes("INT. CAFÉ - DAY\n".encode("latin-1"))
    empty = tmp_path / "empty.fountain"
    empty.write_text("Just a line of action.\n")
    large = tmp_path / "large.fountain"
    with large.open("wb") as file:
        file.truncate(2 * 1024 * 1024 + 1)
    fifo = tmp_path / "play.fifo"
    os.mkfifo(fifo)
    return {
        "latin1": str(latin1),
        "empty": str(empty),
        "large": str(large),
        "fifo": str(fifo),
        "dir": str(tmp_path),
        "example": str(EXAMPLE_PLAY),
    }


# Errors found before anything starts; run in this process.
ERRORS = [
    (["create", "no/such/play.fountain"], EXIT_NO_INPUT, "no such file"),
    (["create", "{dir}"], EXIT_NO_INPUT, "a directory, not a file"),
    (["create", "/dev/zero"], EXIT_NO_INPUT, "a character device, not a file"),
    (["create", "{fifo}"], EXIT_NO_INPUT, "a named pipe, not a file"),
    (["create", "{large}"], EXIT_DATA, "larger than 2,097,152 bytes"),
    (["create", "{latin1}"], EXIT_DATA, "not UTF-8"),
    (["create", "{empty}"], EXIT_DATA, "no scene heading"),
    (["create", "{example}", "--fail-at", "CreateWidgets"], EXIT_USAGE, "unknown step 'CreateWidgets'"),
    (["create"], EXIT_USAGE, "required"),
    (["create", "{example}", "--fail-compensation", "DeleteActs"], EXIT_USAGE, "needs --fail-at"),
    (
        ["create", "{example}", "--fail-at", "CreateActs", "--fail-compensation", "DeleteWidgets"],
        EXIT_USAGE,
        "unknown compensation 'DeleteWidgets'",
    ),
    (
        ["create", "{example}", "--fail-at", "CreateActs", "--fail-compensation", "DeleteActs:twice"],
        EXIT_USAGE,
        "whole number",
    ),
    (["create", "{example}", "--step-timeout", "0"], EXIT_USAGE, "'0' is not a whole number of seconds"),
    (["create", "{example}", "--step-timeout", "-1"], EXIT_USAGE, "'-1' is not a whole number of seconds"),
    (["create", "{example}", "--step-timeout", "nan"], EXIT_USAGE, "'nan' is not a whole number"),
    (["create", "{example}", "--step-timeout", "1e12"], EXIT_USAGE, "'1e12' is not a whole number"),
    (["create", "{example}", "--step-timeout", "100000000"], EXIT_USAGE, "from 1 to 99,999,999"),
    (["create", "{example}", "--progress-every", "0"], EXIT_USAGE, "'0' is not a number of seconds"),
    (["create", "{example}", "--progress-every", "inf"], EXIT_USAGE, "'inf' is not a number of seconds"),
    (["create", "{example}", "--log-level", "LOUD"], EXIT_USAGE, "'LOUD' is not a log level"),
    (["stuck", "--older-than", "nan"], EXIT_USAGE, "'nan' is not a number of minutes"),
    (["stuck", "--older-than=-inf"], EXIT_USAGE, "'-inf' is not a number of minutes"),
    (["stuck", "--older-than", "-1"], EXIT_USAGE, "'-1' is not a number of minutes"),
    (["stuck", "--older-than", "1e12"], EXIT_USAGE, "'1e12' is not a number of minutes"),
    (["resume", ""], EXIT_USAGE, "'' is not a play id"),
    (["resume", "../../etc/passwd"], EXIT_USAGE, "is not a play id"),
    (["resume", PLAY_ID.upper()], EXIT_USAGE, "is not a play id"),
    (["resume", PLAY_ID], EXIT_USAGE, "STATE_MACHINE_ARN"),
    (["serve", "--port", "99999"], EXIT_USAGE, "'99999' is not a port from 1 to 65,535"),
    (["serve", "--port", "0"], EXIT_USAGE, "'0' is not a port"),
    (["serve", "--aws-port", "-1"], EXIT_USAGE, "'-1' is not a port"),
    (["serve", "--port", "4000", "--aws-port", "4000"], EXIT_USAGE, "choose two ports"),
    (["serve", "--request-timeout", "0"], EXIT_USAGE, "'0' is not a whole number of seconds"),
    (["delete", PLAY_ID, "--endpoint-url", "notaurl"], EXIT_USAGE, "'notaurl' is not an endpoint URL"),
    (["resume", PLAY_ID, "--endpoint-url", "ftp://x"], EXIT_USAGE, "'ftp://x' is not an endpoint URL"),
    (["stuck", "--endpoint-url", "http://127.0.0.1:99999"], EXIT_USAGE, "is not a URL (Port out of range"),
    (["create", "{example}", "--endpoint-url", "http://[::1"], EXIT_USAGE, "is not a URL (Invalid IPv6"),
    (["serve", "--cors-origins", "*"], EXIT_USAGE, "CORS origins must name origins; '*' would let any site"),
    (["serve", "--cors-origins", "localhost:5173"], EXIT_USAGE, "'localhost:5173' is not an origin"),
    (["serve", "--cors-origins", " , "], EXIT_USAGE, "--cors-origins names no origin"),
    (["launch"], EXIT_USAGE, "invalid choice: 'launch'"),
    (["revise", PLAY_ID, "{example}"], EXIT_USAGE, "pass --endpoint-url of a running `fountain-saga serve`"),
    (["delete", PLAY_ID], EXIT_USAGE, "pass --endpoint-url of a running `fountain-saga serve`"),
    (
        ["delete", PLAY_ID, "--state-machine-arn", "arn:aws:states:us-east-1:123456789012:stateMachine:x"],
        EXIT_USAGE,
        "is not a create-play state machine's ARN",
    ),
    (["revise", PLAY_ID, "{empty}"], EXIT_DATA, "no scene heading"),
    (["revise", PLAY_ID, "{example}", "--if-match", "0"], EXIT_USAGE, "'0' is not a version"),
    (["revise", PLAY_ID, "{example}", "--fail-at", "PublishPlay"], EXIT_USAGE, "a revise saga's steps are"),
    (
        ["revise", PLAY_ID, "{example}", "--fail-at", "CreateActs", "--fail-compensation", "UnpublishPlay"],
        EXIT_USAGE,
        "unknown compensation 'UnpublishPlay'; a revise saga's compensations are RestoreVersion",
    ),
    (
        ["delete", PLAY_ID, "--fail-at", "CreateActs"],
        EXIT_USAGE,
        "unknown step 'CreateActs'; a delete saga's",
    ),
    (["delete", PLAY_ID, "--fail-attempts", "2"], EXIT_USAGE, "--fail-attempts needs --fail-at"),
    (
        ["create", "{example}", "--endpoint-url", "http://127.0.0.1:1", "--log-level", "INFO"],
        EXIT_USAGE,
        "give it --log-level",
    ),
]


@pytest.mark.parametrize(("args", "code", "message"), ERRORS, ids=[" ".join(a) or "-" for a, _, _ in ERRORS])
def test_bad_input_gets_one_line_and_its_own_exit_code(
    args: list[str],
    code: int,
    message: str,
    files: dict[str, str],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("STATE_MACHINE_ARN", raising=False)  # as in a fresh shell
    try:
        returned = main([a.format(**files) for a in args])
    except SystemExit as exit:  # argparse's own refusals
        returned = int(exit.code or 0)
    assert returned == code
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1, err
    assert message in err


@pytest.mark.parametrize(
    ("variable", "value", "where"),
    [("AWS_REGION", "bad region!", "AWS_REGION"), ("AWS_DEFAULT_REGION", "x_y", "your profile's region")],
)
def test_a_region_that_is_no_region_name_is_one_line_and_exit_78(
    variable: str,
    value: str,
    where: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in AWS_VARIABLES:  # what the CLI sets in os.environ is undone after the test
        monkeypatch.setenv(name, "")
        monkeypatch.delenv(name)
    monkeypatch.setenv(variable, value)
    arn = "arn:aws:states:us-east-1:123456789012:stateMachine:fountain-create-play"
    for args in (
        ["stuck", "--endpoint-url", "http://127.0.0.1:1"],
        ["delete", PLAY_ID, "--state-machine-arn", arn],
    ):
        assert main(args) == EXIT_CONFIG
        err = capsys.readouterr().err.splitlines()
        assert (
            len(err) == 1 and f"{value!r} is not an AWS region (as us-east-1)" in err[0] and where in err[0]
        )


def test_a_bug_of_the_cli_is_still_one_line_and_exit_70(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from fountain_local import cli

    def broken(*_: object) -> int:
        raise RuntimeError("what the code did not expect\nand a second line")

    monkeypatch.setattr(cli, "_stuck", broken)
    monkeypatch.delenv(cli.TRACEBACK_ENV, raising=False)
    assert main(["stuck"]) == EXIT_SOFTWARE
    assert capsys.readouterr().err.splitlines() == [
        "fountain-saga: unexpected RuntimeError: what the code did not expect (a bug of fountain-saga; "
        "FOUNTAIN_TRACEBACK=1 shows where)"
    ]
    monkeypatch.setenv(cli.TRACEBACK_ENV, "1")
    with pytest.raises(RuntimeError):
        main(["stuck"])


@pytest.fixture(scope="module")
def moto_without_tables() -> Iterator[str]:
    """An AWS endpoint that answers, holding none of the stack's tables or state machine.

    A process of its own: a moto server in this process would share the session's in-process
    moto, whose tables other tests have created.
    """
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert server.poll() is None and time.monotonic() < deadline, "the moto server did not start"
                time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(timeout=10)


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _without_credentials(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    return {
        **env,
        "HOME": str(home),
        "AWS_CONFIG_FILE": str(home / "none"),
        "AWS_SHARED_CREDENTIALS_FILE": str(home / "none"),
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_DEFAULT_REGION": "us-east-1",
    }


# Errors from talking to AWS; run as a user would, each in a process of its own, with the user's
# AWS setting: as the tests have it, no credentials at all, or a profile that does not exist.
AWS_ERRORS = [
    (
        ["stuck", "--endpoint-url", "http://127.0.0.1:{closed}"],
        None,
        EXIT_UNREACHABLE,
        "cannot reach the AWS endpoint",
    ),
    (
        ["stuck", "--state-machine-arn", "arn:aws:states:us-east-1:123456789012:stateMachine:x"],
        {},
        EXIT_NO_PERMISSION,
        "no AWS credentials",
    ),
    (
        ["resume", PLAY_ID, "--endpoint-url", "{moto}"],
        None,
        EXIT_CONFIG,
        "no ledger table 'fountain-ledger' at",
    ),
    (
        ["stuck", "--state-machine-arn", "arn:aws:states:us-east-1:123456789012:stateMachine:x"],
        {"AWS_PROFILE": "nowhere"},
        EXIT_CONFIG,
        "The config profile (nowhere) could not be found: check AWS_PROFILE",
    ),
    (
        ["revise", PLAY_ID, str(EXAMPLE_PLAY), "--fail-at", "CreateActs", "--endpoint-url", "{moto}"],
        None,
        EXIT_CONFIG,
        "no state machine arn:aws:states:us-east-1:123456789012:stateMachine:fountain-revise-play at",
    ),
    (
        ["delete", PLAY_ID, "--endpoint-url", "{moto}"],
        None,
        EXIT_CONFIG,
        "no ledger table 'fountain-ledger' at",
    ),
]


@pytest.mark.parametrize(
    ("args", "setting", "code", "message"),
    AWS_ERRORS,
    ids=["unreachable", "no credentials", "no table", "no profile", "no revise machine", "delete, no table"],
)
def test_operator_commands_say_in_one_line_what_is_wrong_with_aws(
    args: list[str],
    setting: dict[str, str] | None,
    code: int,
    message: str,
    moto_without_tables: str,
    tmp_path: Path,
) -> None:
    filled = [a.format(closed=_closed_port(), moto=moto_without_tables) for a in args]
    env = None if setting is None else {**_without_credentials(tmp_path), **setting}
    result = _cli(*filled, env=env)
    assert result.returncode == code, result.stderr
    assert len(result.stderr.splitlines()) == 1, result.stderr
    assert message in result.stderr


def test_version_and_a_description_for_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert re.fullmatch(r"fountain-saga \d+\.\d+\.\d+\S*\n", capsys.readouterr().out)
    for command in ("create", "revise", "delete", "serve", "resume", "stuck"):
        with pytest.raises(SystemExit) as exit_info:
            main([command, "--help"])
        assert exit_info.value.code == 0
        description = capsys.readouterr().out.split("\n\n")[1]
        assert not description.startswith(("positional arguments", "options")), command
        assert len(description) > 60, (command, description)


@pytest.mark.parametrize(
    ("args", "fault_injection"),
    [
        (["serve"], True),
        (["serve", "--host", "::1"], True),
        (["serve", "--host", "0.0.0.0"], False),
        (["serve", "--host", "0.0.0.0", "--fault-injection"], True),
        (["serve", "--no-fault-injection"], False),
    ],
)
def test_fault_injection_is_off_beyond_loopback_unless_asked_for(
    args: list[str], fault_injection: bool
) -> None:
    assert cli.serve_options(cli.build_parser().parse_args(args)).fault_injection is fault_injection


@pytest.fixture(scope="module")
def serve(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    """One `fountain-saga serve` for this module's plays: each start costs seconds."""
    base = tmp_path_factory.mktemp("serve")
    with local_server(base / "data", base / "serve.log", "--in-memory") as up:
        yield up


def _on(serve: Deployment, *args: str) -> subprocess.CompletedProcess[str]:
    assert serve.aws_endpoint is not None
    return _cli(*args, "--endpoint-url", serve.aws_endpoint)


def _play(serve: Deployment, play_id: str) -> tuple[int, str]:
    """The play's version and text, as a reader gets them from the API."""
    view, text = serve.request("GET", f"/plays/{play_id}"), serve.request("GET", f"/plays/{play_id}/fountain")
    assert view.status == text.status == 200, (view.text, text.text)
    return view.json()["version"], text.text


def test_a_play_created_on_serve_is_revised_and_deleted_there_with_one_line_for_each_refusal(
    serve: Deployment, tmp_path: Path
) -> None:
    created = _on(serve, "create", str(EXAMPLE_PLAY), "--json")
    assert created.returncode == 0, created.stderr
    play_id = json.loads(created.stdout)["playId"]
    revised_text = EXAMPLE_PLAY.read_text().replace("MARGARET", "MAUD")
    revision = tmp_path / "revised.fountain"
    revision.write_text(revised_text)

    # Failing before the pivot rolls the revision back: readers never saw it.
    failed = _on(serve, "revise", play_id, str(revision), "--fail-at", "CreateDialogue")
    assert failed.returncode == EXIT_BY_STATUS["ROLLED_BACK"], failed.stderr
    lines = failed.stdout.splitlines()
    assert any(re.match(r"  → CreateDialogue +FAILED  InjectedFault$", line) for line in lines), lines
    assert [line.split()[1] for line in lines if line.startswith("  ↩")] == [
        "DeleteDialogue",
        "DeleteCharacters",
        "DeleteScenes",
        "DeleteActs",
        "DeleteScript",
    ]
    assert "version     1  (play COMPLETED)" in lines
    version, text = _play(serve, play_id)
    assert version == 1 and "MARGARET" in text and "MAUD" not in text

    revised = _on(serve, "revise", play_id, str(revision), "--if-match", "1")
    assert revised.returncode == 0, revised.stderr
    lines = revised.stdout.splitlines()
    assert any(re.match(r"  ⇒ SwitchVersion +ok ", line) for line in lines), lines
    assert any(re.match(r"  → CleanUpScript +ok ", line) for line in lines), lines
    # 2 was the rolled-back draft's: a number once given never names another text.
    assert "version     3  (play COMPLETED)" in lines
    version, text = _play(serve, play_id)
    assert version == 3 and "MAUD" in text and "MARGARET" not in text

    stale = _on(serve, "revise", play_id, str(EXAMPLE_PLAY), "--if-match", "1")
    assert stale.returncode == EXIT_DATA
    assert stale.stderr.splitlines() == [
        f"fountain-saga: play {play_id} is at version 3, not 1: read it again (GET /plays/{play_id}) "
        "and pass its version to --if-match"
    ]

    # A deletion's steps are retried: one failed attempt only delays it.
    deleted = _on(
        serve, "delete", play_id, "--if-match", "3", "--fail-at", "DeleteActs", "--fail-attempts", "1"
    )
    assert deleted.returncode == 0, deleted.stderr
    assert re.search(r"↻ DeleteActs +attempt 1 failed \(InjectedFault\); attempt 2 after", deleted.stdout)
    assert "version     3  (play DELETED)" in deleted.stdout
    assert "rows left   acts 0, scenes 0, characters 0, dialogue 0, transitions 0" in deleted.stdout
    assert serve.request("GET", f"/plays/{play_id}/fountain").status == 410

    gone = _on(serve, "revise", play_id, str(revision))
    assert gone.returncode == EXIT_NO_INPUT
    assert gone.stderr.splitlines() == [
        f"fountain-saga: play {play_id} is DELETED: a deleted play cannot be revised"
    ]
    again = _on(serve, "delete", play_id, "--json")
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["playStatus"] == "DELETED"


@pytest.mark.parametrize("command", [["revise", PLAY_ID, str(EXAMPLE_PLAY)], ["delete", PLAY_ID]])
def test_a_play_serve_does_not_have_is_one_line_and_exit_66(serve: Deployment, command: list[str]) -> None:
    result = _on(serve, *command)
    assert result.returncode == EXIT_NO_INPUT
    assert result.stderr.splitlines() == [f"fountain-saga: no play {PLAY_ID} at {serve.aws_endpoint}"]
