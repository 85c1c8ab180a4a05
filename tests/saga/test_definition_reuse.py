"""The local engine parses a definition once and runs every execution on it: each keeps its own retries."""

from __future__ import annotations

import io
import json
import time
import zipfile
from typing import Any

from fountain_local.observer import history
from fountain_saga.entities.batch_store import TransientStoreError

MAX_ATTEMPTS = 2


def always_transient(event: dict[str, Any], context: Any) -> dict[str, Any]:
    raise TransientStoreError("the table would not take the writes")


def test_concurrent_executions_of_one_definition_each_retry_in_full(local_aws: Any) -> None:
    # Given a state machine whose only task always fails with a retried error
    lam = local_aws.client("lambda")
    role = "arn:aws:iam::123456789012:role/fountain-local-role"
    arn = lam.create_function(
        FunctionName="AlwaysTransient",
        Runtime="python3.12",
        Role=role,
        Handler=f"{__name__}.always_transient",
        Code={"ZipFile": _empty_zip()},
    )["FunctionArn"]
    definition = {
        "StartAt": "Flaky",
        "States": {
            "Flaky": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": {"FunctionName": arn, "Payload": {}},
                "Retry": [{"ErrorEquals": ["TransientStoreError"], "MaxAttempts": MAX_ATTEMPTS}],
                "End": True,
            }
        },
    }
    sfn = local_aws.client("stepfunctions")
    machine = sfn.create_state_machine(
        name="always-transient", definition=json.dumps(definition), roleArn=role
    )

    # When it runs once, then three times at once
    first = sfn.start_execution(stateMachineArn=machine["stateMachineArn"], name="first")["executionArn"]
    _wait(sfn, [first])
    together = [
        sfn.start_execution(stateMachineArn=machine["stateMachineArn"], name=f"together-{i}")["executionArn"]
        for i in range(3)
    ]
    _wait(sfn, together)

    # Then every execution made the first attempt and all its retries, no more, no fewer
    for execution in [first, *together]:
        assert sfn.describe_execution(executionArn=execution)["status"] == "FAILED"
        scheduled = [e for e in history(sfn, execution) if e["type"] == "TaskScheduled"]
        assert len(scheduled) == 1 + MAX_ATTEMPTS, execution


def _wait(sfn: Any, executions: list[str]) -> None:
    deadline = time.monotonic() + 60
    while any(sfn.describe_execution(executionArn=e)["status"] == "RUNNING" for e in executions):
        assert time.monotonic() < deadline, "executions still running"
        time.sleep(0.02)


def _empty_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("README.txt", "The handler runs in-process.\n")
    return buffer.getvalue()
