"""`fountain-saga create`, as a user runs it: exit codes, one-line errors, the JSON summary."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from fountain_local.cli import EXIT_DATA, EXIT_NO_INPUT, EXIT_USAGE, main
from tests.conftest import EXAMPLE_PLAY, REPO


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run(
        [sys.executable, "-m", "fountain_local.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


def test_create_prints_a_json_summary_and_exits_0() -> None:
    result = _cli("create", str(EXAMPLE_PLAY), "--json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["status"] == "COMPLETED"
    assert summary["counts"] == {"acts": 2, "scenes": 4, "characters": 2, "dialogue": 17, "transitions": 2}
    assert summary["failedStep"] is None
    assert summary["stateTransitions"] == 17
    assert summary["elapsedSeconds"] > 0


def test_fail_at_rolls_back_shows_the_compensations_and_exits_1() -> None:
    result = _cli("create", str(REPO / "examples/the-last-keeper.fountain"), "--fail-at", "CreateDialogue")
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
    assert "ROLLED_BACK" in result.stdout
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["create", "no/such/play.fountain"], EXIT_NO_INPUT, "no such file"),
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
        (["resume", "0" * 32], EXIT_USAGE, "STATE_MACHINE_ARN"),
    ],
)
def test_bad_input_gets_one_line_and_its_own_exit_code(
    args: list[str],
    code: int,
    message: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("STATE_MACHINE_ARN", raising=False)  # as in a fresh shell
    latin1 = tmp_path / "latin1.fountain"
    latin1.write_bytes("INT. CAFÉ - DAY\n".encode("latin-1"))
    empty = tmp_path / "empty.fountain"
    empty.write_text("Just a line of action.\n")
    paths = {
        "latin1": str(latin1),
        "empty": str(empty),
        "example": str(REPO / "examples/the-last-keeper.fountain"),
    }
    args = [a.format(**paths) for a in args]
    if args == ["create"]:
        with pytest.raises(SystemExit) as exit_info:
            main(args)
        assert exit_info.value.code == code
    else:
        assert main(args) == code
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err
