"""Batch writes: 25 per request, unprocessed items retried with backoff, loud when they never go."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from fountain_saga.entities.batch_store import (
    MAX_ATTEMPTS,
    TransientStoreError,
    batch_write,
    put_requests,
)


class FlakyTable:
    """A DynamoDB stand-in that leaves the last `stubborn` items of each call unprocessed a few times."""

    def __init__(self, refusals: int, throttle_first: bool = False) -> None:
        self.refusals = refusals
        self.throttle_first = throttle_first
        self.calls: list[int] = []
        self.stored: dict[str, Any] = {}

    def batch_write_item(self, RequestItems: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:  # noqa: N803
        ((table, requests),) = RequestItems.items()
        self.calls.append(len(requests))
        if self.throttle_first:
            self.throttle_first = False
            raise ClientError({"Error": {"Code": "ProvisionedThroughputExceededException"}}, "BatchWriteItem")
        keep = requests
        unprocessed: list[dict[str, Any]] = []
        if self.refusals > 0:
            self.refusals -= 1
            keep, unprocessed = requests[:-3], requests[-3:]
        for request in keep:
            item = request["PutRequest"]["Item"]
            self.stored[item["id"]["S"]] = item
        return {"UnprocessedItems": {table: unprocessed} if unprocessed else {}}


def _items(n: int) -> list[dict[str, Any]]:
    return [{"id": {"S": f"row-{i}"}} for i in range(n)]


def test_writes_in_batches_of_25() -> None:
    table = FlakyTable(refusals=0)
    calls = batch_write("t", put_requests(_items(60)), client=table, sleep=lambda s: None)
    assert table.calls == [25, 25, 10]
    assert calls == 3 and len(table.stored) == 60


def test_unprocessed_items_are_retried_with_growing_backoff() -> None:
    table = FlakyTable(refusals=3)
    waits: list[float] = []
    batch_write("t", put_requests(_items(25)), client=table, sleep=waits.append)
    assert len(table.stored) == 25
    assert table.calls == [25, 3, 3, 3]  # only the unprocessed items are resent
    assert len(waits) == 3 and all(w >= 0 for w in waits)


def test_throttled_call_is_retried_not_raised() -> None:
    table = FlakyTable(refusals=0, throttle_first=True)
    batch_write("t", put_requests(_items(5)), client=table, sleep=lambda s: None)
    assert len(table.stored) == 5


def test_items_that_never_go_raise_a_transient_error_naming_the_count() -> None:
    table = FlakyTable(refusals=10_000)
    with pytest.raises(
        TransientStoreError, match=r"DynamoDB left 3 of 25 writes unprocessed after 8 attempts"
    ):
        batch_write("t", put_requests(_items(25)), client=table, sleep=lambda s: None)
    assert len(table.calls) == MAX_ATTEMPTS
