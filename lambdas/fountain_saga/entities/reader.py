"""Reading a play back from the six tables (the API's GET routes and the tests use this)."""

from __future__ import annotations

from typing import Any

from fountain_saga.entities.batch_store import dynamodb_client
from fountain_saga.entities.models import ENTITY_MODELS, ScriptRow
from fountain_saga.entities.records import record_from_row
from fountain_saga.play.document import ENTITY_KINDS, PlayDocument, document_from_records

COUNTED_KINDS = ("acts", "scenes", "characters", "dialogue", "transitions")


def count_rows(play_id: str, kinds: tuple[str, ...] = ENTITY_KINDS) -> dict[str, int]:
    """How many rows of this play each table holds (a COUNT query per table, paginated)."""
    client = dynamodb_client()
    counts: dict[str, int] = {}
    for kind in kinds:
        total = 0
        request: dict[str, Any] = {
            "TableName": ENTITY_MODELS[kind].Meta.table_name,
            "KeyConditionExpression": "playId = :p",
            "ExpressionAttributeValues": {":p": {"S": play_id}},
            "Select": "COUNT",
        }
        while True:
            page = client.query(**request)
            total += page["Count"]
            if "LastEvaluatedKey" not in page:
                break
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        counts[kind] = total
    return counts


def load_play(play_id: str) -> PlayDocument | None:
    """The stored play, or None while its script is missing or still PENDING (the saga's lock)."""
    try:
        script = ScriptRow.get(play_id, 0, consistent_read=True)
    except ScriptRow.DoesNotExist:
        return None
    if script.status != "ACTIVE":
        return None
    records: dict[str, list[dict[str, Any]]] = {"script": [record_from_row(script)]}
    for kind in ENTITY_KINDS[1:]:
        model = ENTITY_MODELS[kind]
        records[kind] = [record_from_row(row) for row in model.query(play_id, consistent_read=True)]
    return document_from_records(records)
