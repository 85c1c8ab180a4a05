"""Reading a play back from the six tables (the API's GET routes and the tests use this).

Rows are read with plain paginated Queries and decoded straight from DynamoDB's JSON by the
models' own plan (``records.record_from_item``): no model instance per row, so reading a play
costs little more than the Queries themselves.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from fountain_saga.entities.batch_store import TransientStoreError, dynamodb_client
from fountain_saga.entities.heads import DELETING, read_head
from fountain_saga.entities.models import ENTITY_MODELS, ScriptRow
from fountain_saga.entities.records import Item, key_of, partition_of, record_from_item
from fountain_saga.entities.service import SCRIPT_SEQ
from fountain_saga.play.document import ENTITY_KINDS, PlayDocument, document_from_records

COUNTED_KINDS = ("acts", "scenes", "characters", "dialogue", "transitions")
# A read that finds the head moved under it starts again at the new version; a play revised
# this often while one reader reads it is answered with a retryable error instead.
READ_ATTEMPTS = 3


class PlayBeingDeleted(Exception):
    """The play's head says DELETING: a deletion has begun, and readers get 410."""


@dataclass(frozen=True)
class StoredPlay:
    version: int
    document: PlayDocument


def count_rows(play_id: str, kinds: tuple[str, ...] = ENTITY_KINDS, *, version: int = 1) -> dict[str, int]:
    """How many rows of one version of this play each table holds (a COUNT query per table).

    What an operator or a test asks when it must know what is really in the tables; the API
    answers from the ledger instead.
    """
    client = dynamodb_client()
    partition = partition_of(play_id, version)
    counts: dict[str, int] = {}
    for kind in kinds:
        counts[kind] = sum(page["Count"] for page in _pages(client, kind, partition, Select="COUNT"))
    return counts


def rows_of_play(play_id: str, kinds: tuple[str, ...] = ENTITY_KINDS) -> dict[str, int]:
    """Every row any version of this play has in each table, its head included: a Scan per table,
    for the operator or test that must know nothing of a deleted play is left anywhere."""
    client = dynamodb_client()
    counts: dict[str, int] = {}
    for kind in kinds:
        request: dict[str, Any] = {
            "TableName": ENTITY_MODELS[kind].Meta.table_name,
            "FilterExpression": "playVersion = :play OR begins_with(playVersion, :versions)",
            "ExpressionAttributeValues": {":play": {"S": play_id}, ":versions": {"S": f"{play_id}."}},
            "Select": "COUNT",
            "ConsistentRead": True,
        }
        counts[kind] = 0
        while True:
            page = client.scan(**request)
            counts[kind] += page["Count"]
            if "LastEvaluatedKey" not in page:
                break
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    return counts


def read_play(play_id: str, *, client: Any = None) -> StoredPlay | None:
    """The version of the play readers see now, or None while it has none (being created, rolled
    back, deleted); PlayBeingDeleted once a deletion has begun.

    The head is read before and after the rows: a revision that switched versions in between
    (and may be deleting the rows just read) sends the read to the new version, so a reader
    never gets a mix of two versions.
    """
    client = client or dynamodb_client()
    for _ in range(READ_ATTEMPTS):
        head = read_head(play_id, client=client)
        if head is None:
            return None
        if head.status == DELETING:
            raise PlayBeingDeleted(f"play {play_id} is being deleted")
        document = _load_version(client, play_id, head.version)
        after = read_head(play_id, client=client)
        if after is not None and (after.version, after.status) == (head.version, head.status):
            return StoredPlay(head.version, document) if document else None
    raise TransientStoreError(
        f"play {play_id} changed {READ_ATTEMPTS} times while it was read; read it again"
    )


def load_play(play_id: str, *, client: Any = None) -> PlayDocument | None:
    """The stored play's current version, or None when readers cannot see one."""
    try:
        stored = read_play(play_id, client=client)
    except PlayBeingDeleted:
        return None
    return stored.document if stored else None


def _load_version(client: Any, play_id: str, version: int) -> PlayDocument | None:
    partition = partition_of(play_id, version)
    script = client.get_item(
        TableName=ScriptRow.Meta.table_name, Key=key_of(partition, SCRIPT_SEQ), ConsistentRead=True
    ).get("Item")
    if script is None:
        return None
    records = {"script": [record_from_item("script", script)]}
    for kind in ENTITY_KINDS[1:]:
        records[kind] = [record_from_item(kind, item) for item in query_items(client, kind, partition)]
    return document_from_records(records)


def query_items(client: Any, kind: str, partition: str) -> Iterator[Item]:
    """Every row of one version of a play in one table, in key order, page by page."""
    for page in _pages(client, kind, partition):
        yield from page["Items"]


def _pages(client: Any, kind: str, partition: str, **extra: Any) -> Iterator[dict[str, Any]]:
    request: dict[str, Any] = {
        "TableName": ENTITY_MODELS[kind].Meta.table_name,
        "KeyConditionExpression": "playVersion = :p",
        "ExpressionAttributeValues": {":p": {"S": partition}},
        "ConsistentRead": True,
        **extra,
    }
    while True:
        page = client.query(**request)
        yield page
        if "LastEvaluatedKey" not in page:
            return
        request["ExclusiveStartKey"] = page["LastEvaluatedKey"]
