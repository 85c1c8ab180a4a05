"""The runbook's commands against the running deployment: `stuck` and `resume`."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.conftest import REPO
from tests.e2e.conftest import Deployment


def _operator(deployment: Deployment, state_machine_arn: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO), "LEDGER_TABLE_NAME": deployment.table_names["ledger"]}
    endpoint = ["--endpoint-url", deployment.aws_endpoint] if deployment.aws_endpoint else []
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "fountain_local.cli",
            *args,
            *endpoint,
            "--state-machine-arn",
            state_machine_arn,
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


def test_stuck_lists_nothing_once_every_saga_has_ended_and_resume_refuses_a_finished_play(
    deployment: Deployment,
) -> None:
    created = deployment.post_play("INT. ROOM - DAY\n\nBOB\nHello.\n")
    play_id = created.json()["playId"]
    execution = deployment.execution_arn(play_id)
    machine = execution.rsplit(":", 1)[0].replace(":execution:", ":stateMachine:")
    assert deployment.wait(play_id)["status"] == "COMPLETED"

    stuck = _operator(deployment, machine, "stuck", "--older-than", "0", "--json")
    assert stuck.returncode == 0, stuck.stderr
    assert play_id not in [json.loads(line)["playId"] for line in stuck.stdout.splitlines()]

    refused = _operator(deployment, machine, "resume", play_id)
    assert refused.returncode == 65
    assert f"play {play_id} is COMPLETED: there is nothing to resume" in refused.stderr
    assert "Traceback" not in refused.stderr
