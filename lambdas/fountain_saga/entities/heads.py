"""Each play's head: the one item that says which version readers see, and whether they may.

It lives in the script table at the play id alone (the versions' rows are at "<playId>.<n>"),
and only the script service writes it. Every change is one conditional write, so it is the
sagas' pivot and their semantic lock at once:

* no head — nothing to read: the play is being created, or was rolled back or deleted;
* ``ACTIVE`` at version n — readers see version n, and only version n;
* ``DELETING`` — a deletion has begun: readers get 410 while its rows go.

Each function is idempotent for the saga that calls it (a retried write by the same saga finds
its own change and succeeds), and names what it found when the condition fails.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from fountain_saga.entities.batch_store import dynamodb_client
from fountain_saga.entities.models import ScriptRow
from fountain_saga.entities.records import key_of

HEAD_SEQ = 0
ACTIVE = "ACTIVE"
DELETING = "DELETING"


class VersionConflict(Exception):
    """The head is not at the version a saga was based on: another change won."""


@dataclass(frozen=True)
class Head:
    version: int
    status: str
    saga_id: str

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> Head:
        return cls(int(item["version"]["N"]), item["status"]["S"], item["sagaId"]["S"])


def read_head(play_id: str, *, client: Any = None) -> Head | None:
    item = (
        (client or dynamodb_client())
        .get_item(TableName=_table(), Key=key_of(play_id, HEAD_SEQ), ConsistentRead=True)
        .get("Item")
    )
    return Head.from_item(item) if item else None


def publish(play_id: str, version: int, saga_id: str) -> None:
    """Create the head at the first version: the play becomes readable. The same saga may repeat it."""
    _write(
        play_id,
        "SET #version = :version, #status = :active, sagaId = :saga",
        "attribute_not_exists(playVersion) OR sagaId = :saga",
        {":version": _n(version), ":active": {"S": ACTIVE}, ":saga": {"S": saga_id}},
        lambda found: f"play {play_id} already has a head, written by {found.saga_id if found else 'nobody'}",
    )


def unpublish(play_id: str, saga_id: str) -> bool:
    """Remove the head this saga created, so no reader sees the play being taken apart.

    False when there is nothing of this saga's to remove (never published, or already removed).
    """
    try:
        dynamodb_client().delete_item(
            TableName=_table(),
            Key=key_of(play_id, HEAD_SEQ),
            ConditionExpression="sagaId = :saga",
            ExpressionAttributeValues={":saga": {"S": saga_id}},
        )
    except ClientError as error:
        if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise
        return False
    return True


def switch_version(play_id: str, expected: int, version: int, saga_id: str) -> None:
    """The revision's pivot: from the version the saga was based on to its draft, or VersionConflict."""
    _write(
        play_id,
        "SET #version = :version, sagaId = :saga",
        "#status = :active AND (#version = :expected OR (#version = :version AND sagaId = :saga))",
        {
            ":version": _n(version),
            ":expected": _n(expected),
            ":active": {"S": ACTIVE},
            ":saga": {"S": saga_id},
        },
        lambda found: (
            f"play {play_id} is no longer at version {expected}: "
            + (f"its head is {found.status} at version {found.version}" if found else "it has no head")
        ),
    )


def restore_version(play_id: str, previous: int, version: int, saga_id: str) -> bool:
    """Undo this saga's pivot if it happened (its outcome was not known); False when it had not."""
    try:
        _write(
            play_id,
            "SET #version = :previous",
            "#version = :version AND sagaId = :saga",
            {":previous": _n(previous), ":version": _n(version), ":saga": {"S": saga_id}},
            lambda found: "",
        )
    except VersionConflict:
        return False
    return True


def mark_deleting(play_id: str, saga_id: str) -> bool:
    """The deletion's pivot: readers get 410 from now on. False when the play has no head to mark
    (it was never published, or a previous attempt of this deletion already removed it)."""
    try:
        _write(
            play_id,
            "SET #status = :deleting, sagaId = :saga",
            "attribute_exists(playVersion)",
            {":deleting": {"S": DELETING}, ":saga": {"S": saga_id}},
            lambda found: "",
        )
    except VersionConflict:
        return False
    return True


def forget(play_id: str) -> bool:
    """Remove the head of a play being deleted, once its rows are gone; False when already gone."""
    try:
        dynamodb_client().delete_item(
            TableName=_table(),
            Key=key_of(play_id, HEAD_SEQ),
            ConditionExpression="#status = :deleting",
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues={":deleting": {"S": DELETING}},
        )
    except ClientError as error:
        if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise
        if read_head(play_id) is not None:
            raise VersionConflict(
                f"play {play_id}'s head is not DELETING; the deletion did not mark it"
            ) from error
        return False
    return True


def _write(
    play_id: str,
    update: str,
    condition: str,
    values: dict[str, Any],
    conflict: Any,
) -> None:
    request: dict[str, Any] = {
        "TableName": _table(),
        "Key": key_of(play_id, HEAD_SEQ),
        "UpdateExpression": update,
        "ConditionExpression": condition,
        "ExpressionAttributeValues": values,
    }
    # Both are DynamoDB reserved words; only the names an expression uses may be sent.
    names = {name: name[1:] for name in ("#status", "#version") if name in update + condition}
    if names:
        request["ExpressionAttributeNames"] = names
    try:
        dynamodb_client().update_item(**request)
    except ClientError as error:
        if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise
        raise VersionConflict(conflict(read_head(play_id))) from error


def _n(value: int) -> dict[str, str]:
    return {"N": str(value)}


def _table() -> str:
    return ScriptRow.Meta.table_name
