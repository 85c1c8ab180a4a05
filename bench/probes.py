"""What the benchmark reads off a run: the handlers' write calls, the execution history, the memory.

Nothing here changes what the saga does. The write probe listens on the botocore client the
handlers share (``batch_store.dynamodb_client()``), so it sees every request they send and
nothing the state machine sends itself; the state machine's own ledger updates are counted from
the execution history instead.
"""

from __future__ import annotations

import json
import math
import resource
import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

WRITE_OPERATIONS = frozenset({"BatchWriteItem", "UpdateItem", "PutItem", "DeleteItem", "TransactWriteItems"})
S3_OPERATIONS = frozenset({"PutObject", "GetObject"})
KB = 1024


@dataclass
class Batch:
    """One BatchWriteItem call as a handler sent it: kept so the floor can replay it."""

    table: str
    requests: list[dict[str, Any]]


@dataclass
class WriteTally:
    calls: Counter[str] = field(default_factory=Counter)
    batches: list[Batch] = field(default_factory=list)
    # Write request units as on-demand DynamoDB bills them (1 per started KB of each item).
    write_units: int = 0
    rows_put: int = 0
    rows_deleted: int = 0

    @property
    def write_requests(self) -> int:
        return sum(n for op, n in self.calls.items() if op in WRITE_OPERATIONS)


class ClientProbe:
    """Counts the calls made through one botocore client while it is attached.

    It only keeps references while a saga runs (the saga's own thread pays for the listening);
    sizes and units are worked out afterwards, in ``settle``.
    """

    def __init__(self, client: Any, operations: frozenset[str]) -> None:
        self._client = client
        self._operations = operations
        self._lock = threading.Lock()
        self._event = f"before-parameter-build.{client.meta.service_model.service_id.hyphenize()}"
        self._calls: list[tuple[str, dict[str, Any]]] = []
        self._client.meta.events.register(self._event, self._on_call)

    def close(self) -> None:
        self._client.meta.events.unregister(self._event, self._on_call)

    def _on_call(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        if model.name in self._operations:
            with self._lock:
                self._calls.append((model.name, params))

    def settle(self) -> WriteTally:
        """What was sent since the last settle, with its write request units."""
        with self._lock:
            calls, self._calls = self._calls, []
        tally = WriteTally()
        # Sizes of the items this run put, so a delete is billed for the item it removes.
        units_of: dict[tuple[str, str, str], int] = {}
        for operation, params in calls:
            tally.calls[operation] += 1
            if operation == "BatchWriteItem":
                for table, requests in params["RequestItems"].items():
                    tally.batches.append(Batch(table, list(requests)))
                    for request in requests:
                        _bill(tally, units_of, table, request)
            elif operation in ("UpdateItem", "PutItem", "DeleteItem"):
                # The script's status flip: billed as the item it rewrites.
                key = params.get("Key") or params.get("Item") or {}
                tally.write_units += units_of.get(_key_id(params["TableName"], key), 1)
        return tally


def _bill(tally: WriteTally, units_of: dict[tuple[str, str, str], int], table: str, request: Any) -> None:
    if "PutRequest" in request:
        item = request["PutRequest"]["Item"]
        units = write_units(item_size(item))
        units_of[_key_id(table, item)] = units
        tally.write_units += units
        tally.rows_put += 1
    else:
        # Deleting an absent key still costs one unit; an existing item costs its size.
        key = request["DeleteRequest"]["Key"]
        tally.write_units += units_of.get(_key_id(table, key), 1)
        tally.rows_deleted += 1


def _key_id(table: str, item: dict[str, Any]) -> tuple[str, str, str]:
    return (table, str(item.get("playVersion")), str(item.get("seq")))


def item_size(item: dict[str, Any]) -> int:
    """DynamoDB's item size: attribute names plus values, as its documentation counts them."""
    return sum(len(name.encode()) + _value_size(value) for name, value in item.items())


def _value_size(value: dict[str, Any]) -> int:
    ((kind, inner),) = value.items()
    if kind == "S":
        return len(str(inner).encode())
    if kind == "N":
        digits = str(inner).lstrip("-").replace(".", "").lstrip("0") or "0"
        return 1 + math.ceil(len(digits) / 2)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "L":
        return 3 + sum(1 + _value_size(v) for v in inner)
    if kind == "M":
        return 3 + sum(1 + len(k.encode()) + _value_size(v) for k, v in inner.items())
    return len(json.dumps(inner).encode())


def write_units(size: int) -> int:
    return max(1, math.ceil(size / KB))


@dataclass(frozen=True)
class ExecutionFigures:
    """Read off one execution's history."""

    state_transitions: int  # states entered: what a Standard workflow bills
    ledger_updates: int  # the state machine's own DynamoDB updateItem tasks
    events_published: int  # EventBridge putEvents tasks
    retries: int  # task attempts beyond the first
    max_payload_bytes: int  # largest state input, state output or task parameters


def execution_figures(events: list[dict[str, Any]]) -> ExecutionFigures:
    entered = scheduled = task_states = ledger = published = largest = 0
    for event in events:
        kind = event["type"]
        if kind.endswith("StateEntered"):
            entered += 1
            task_states += kind == "TaskStateEntered"
        for name, details in event.items():
            if not (name.endswith("EventDetails") and isinstance(details, dict)):
                continue
            for payload in ("input", "output", "parameters"):
                text = details.get(payload)
                if isinstance(text, str):
                    largest = max(largest, len(text.encode()))
            if kind == "TaskScheduled":
                scheduled += 1
                ledger += details.get("resourceType") == "dynamodb"
                published += details.get("resourceType") == "events"
    return ExecutionFigures(entered, ledger, published, scheduled - task_states, largest)


def peak_rss_mb() -> float:
    """This process's peak resident set size so far (Linux reports kilobytes)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
