"""Reading a play back from the six tables (the API's GET routes and the tests use this).

Rows are read with plain paginated Queries and decoded straight from DynamoDB's JSON by the
models' own plan (``records.record_from_item``): no model instance per row, so reading a play
costs little more than the Queries themselves.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from fountain_saga.entities.batch_store import dynamodb_client
from fountain_saga.entities.models import ENTITY_MODELS, ScriptRow
from fountain_saga.entities.records import Item, key_of, record_from_item
from fountain_saga.entities.service import SCRIPT_SEQ
from fountain_saga.play.document import ENTITY_KINDS, PlayDocument, document_from_records

COUNTED_KINDS = ("acts", "scenes", "characters", "dialogue", "transitions")


def count_rows(play_id: str, kinds: tuple[str, ...] = ENTITY_KINDS) -> dict[str, int]:
    """How many rows of this play each table holds (a COUNT query per table, paginated).

    What an operator or a test asks when it must know what is really in the tables; the API
    answers from the ledger instead.
    """
    client = dynamodb_client()
    counts: dict[str, int] = {}
    for kind in kinds:
        counts[kind] = sum(page["Count"] for page in _pages(client, kind, play_id, Select="COUNT"))
    return counts


def load_play(play_id: str, *, client: Any = None) -> PlayDocument | None:
    """The stored play, or None while its script is missing or still PENDING (the saga's lock)."""
    client = client or dynamodb_client()
    script = client.get_item(
        TableName=ScriptRow.Meta.table_name, Key=key_of(play_id, SCRIPT_SEQ), ConsistentRead=True
    ).get("Item")
    if script is None or script.get("status", {}).get("S") != "ACTIVE":
        return None
    records = {"script": [record_from_item("script", script)]}
    for kind in ENTITY_KINDS[1:]:
        records[kind] = [record_from_item(kind, item) for item in query_items(client, kind, play_id)]
    return document_from_records(records)


def query_items(client: Any, kind: str, play_id: str) -> Iterator[Item]:
    """Every row of one play in one table, in key order, page by page."""
    for page in _pages(client, kind, play_id):
        yield from page["Items"]


def _pages(client: Any, kind: str, play_id: str, **extra: Any) -> Iterator[dict[str, Any]]:
    request: dict[str, Any] = {
        "TableName": ENTITY_MODELS[kind].Meta.table_name,
        "KeyConditionExpression": "playId = :p",
        "ExpressionAttributeValues": {":p": {"S": play_id}},
        "ConsistentRead": True,
        **extra,
    }
    while True:
        page = client.query(**request)
        yield page
        if "LastEvaluatedKey" not in page:
            return
        request["ExclusiveStartKey"] = page["LastEvaluatedKey"]
