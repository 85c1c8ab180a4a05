"""BatchWriteItem, 25 requests at a time, with UnprocessedItems retried under backoff.

pynamodb's own batch writer resends unprocessed items at once, with no backoff, which under
throttling just burns the retries; this one backs off exponentially with full jitter and says
loudly how many items it could not write.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable, Iterator
from functools import cache
from itertools import islice
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from fountain_saga.entities.deadline import Deadline, Fence

BATCH_LIMIT = 25
MAX_ATTEMPTS = 8
BASE_DELAY_SECONDS = 0.05
MAX_DELAY_SECONDS = 2.0

WriteRequest = dict[str, Any]
_THROTTLING = {"ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded"}


class TransientStoreError(Exception):
    """DynamoDB would not take every write in time; the step is safe to retry as a whole."""


@cache
def dynamodb_client() -> Any:
    # Adaptive retries cover throttled calls; unprocessed items are ours to retry (below).
    return boto3.client("dynamodb", config=Config(retries={"mode": "adaptive", "max_attempts": 5}))


def chunks(items: Iterable[WriteRequest], size: int = BATCH_LIMIT) -> Iterator[list[WriteRequest]]:
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch


def put_requests(items: Iterable[dict[str, Any]]) -> Iterator[WriteRequest]:
    return ({"PutRequest": {"Item": item}} for item in items)


def delete_requests(keys: Iterable[dict[str, Any]]) -> Iterator[WriteRequest]:
    return ({"DeleteRequest": {"Key": key}} for key in keys)


def batch_write(
    table_name: str,
    requests: Iterable[WriteRequest],
    *,
    client: Any = None,
    sleep: Callable[[float], None] = time.sleep,
    fence: Fence | None = None,
) -> int:
    """Send every request; return how many BatchWriteItem calls it took.

    Requests may come lazily: a step encodes each batch's items just before sending them, so
    thousands of encoded rows never live at once (and never cost the garbage collector a look).
    With a ``fence``, no call and no backoff starts unless it can end before the step's deadline
    (``StepOutOfTime`` otherwise): a write landing after the state machine gave up on the step
    could land after its compensation too.
    """
    client = client or dynamodb_client()
    # Callers outside a step (the benchmark, tests) have no deadline to keep.
    fence = fence or Deadline.unbounded("batch write").fence(0, "rows written")
    calls = 0
    done = 0
    for batch in chunks(requests):
        pending: list[WriteRequest] = batch
        for attempt in range(MAX_ATTEMPTS):
            fence.before_batch(done + len(batch) - len(pending))
            try:
                with fence.timing():
                    response = client.batch_write_item(RequestItems={table_name: pending})
            except ClientError as error:
                if error.response["Error"]["Code"] not in _THROTTLING:
                    raise
                response = {"UnprocessedItems": {table_name: pending}}
            calls += 1
            pending = response.get("UnprocessedItems", {}).get(table_name, [])
            if not pending:
                break
            delay = random.uniform(0, min(MAX_DELAY_SECONDS, BASE_DELAY_SECONDS * 2**attempt))
            fence.before_batch(done + len(batch) - len(pending), then_wait=delay)
            sleep(delay)
        else:
            # Said without the table's name: the message reaches clients through the saga ledger.
            raise TransientStoreError(
                f"DynamoDB left {len(pending)} of {len(batch)} writes unprocessed "
                f"after {MAX_ATTEMPTS} attempts"
            )
        done += len(batch)
    return calls
