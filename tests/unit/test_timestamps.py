"""One time format, whoever writes it: UTC, milliseconds, "Z" in every ledger field the intake or
the state machine writes ($$.State.EnteredTime, as Step Functions stamps it) and in every response."""

from __future__ import annotations

import re
from typing import Any

import boto3

from fountain_saga.api.views import timestamp
from fountain_saga.topology import LEDGER_TABLE
from tests.unit.api_calls import call, event, post_play

AWS_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def _times(item: Any, where: str = "") -> dict[str, str]:
    """Every attribute named ...At, at any depth of a DynamoDB item or a JSON document."""
    found: dict[str, str] = {}
    if isinstance(item, dict):
        for key, value in item.items():
            if key in ("S", "M") and where:
                found |= _times(value, where)
            elif key.endswith("At") and isinstance(value, (str, dict)):
                found[f"{where}.{key}"] = value["S"] if isinstance(value, dict) else value
            else:
                found |= _times(value, f"{where}.{key}")
    elif isinstance(item, list):
        for index, value in enumerate(item):
            found |= _times(value, f"{where}[{index}]")
    return found


def test_every_time_in_the_ledger_and_in_the_view_is_utc_with_milliseconds(local_aws: Any) -> None:
    completed = post_play().json()["playId"]
    rolled_back = post_play(headers={"X-Fountain-Fail-At": "CreateDialogue"}).json()["playId"]
    local_aws.wait_for_executions()
    ledger = boto3.client("dynamodb", region_name="us-east-1")
    for play_id, fields in ((completed, 16), (rolled_back, 18)):
        item = ledger.get_item(
            TableName=local_aws.resources.table_names[LEDGER_TABLE.key], Key={"playId": {"S": play_id}}
        )["Item"]
        stamps = _times(item)
        # createdAt and updatedAt, and each step's startedAt and endedAt: forward steps and, for
        # the rolled-back play, the compensations too, and the saga's own endedAt.
        assert len(stamps) >= fields, stamps
        assert {name: s for name, s in stamps.items() if not AWS_TIME.match(s)} == {}
        view = call(event("GET", f"/plays/{play_id}")).json()
        assert all(AWS_TIME.match(s) for s in _times(view).values() if s is not None)


def test_the_view_writes_any_iso_time_the_same_way() -> None:
    assert timestamp("2026-11-29T09:03:30.123456+00:00") == "2026-11-29T09:03:30.123Z"
    assert timestamp("2026-11-29T10:03:30.1+01:00") == "2026-11-29T09:03:30.100Z"
    assert timestamp("2026-11-29T09:03:30.123Z") == "2026-11-29T09:03:30.123Z"
    assert timestamp(None) is None
