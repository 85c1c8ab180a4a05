"""Measuring sagas on the local runtime, and the floor they are compared with.

A saga is timed from the intake (parse, ledger entry, staging, StartExecution) to the moment
the execution is seen to have ended. The floor is the same DynamoDB work done directly: every
BatchWriteItem request the saga's handlers sent, replayed in their order, 25 writes a request,
through the same client into the same tables, under a fresh play id. For the success path that
is a write of every row; for the rollback path it is the partial write plus the compensations'
deletes (which cover every key the forward steps could have written, present or not). The
garbage collector runs before anything is timed, so neither pays for the other's garbage.
"""

from __future__ import annotations

import gc
import statistics
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, Protocol, Self

from bench.playgen import PlayShape, generate_play
from bench.probes import Batch, ClientProbe, ExecutionFigures, WriteTally, execution_figures, item_size
from fountain_local.lambda_runtime import INVOCATIONS
from fountain_local.observer import history
from fountain_local.runtime import LocalAws
from fountain_saga.entities.batch_store import batch_write, delete_requests, dynamodb_client
from fountain_saga.entities.reader import count_rows
from fountain_saga.saga import ledger
from fountain_saga.saga.claim_check import s3_client
from fountain_saga.saga.faults import FaultPlan
from fountain_saga.saga.intake import PlayRequest, start_play
from fountain_saga.saga.play_changes import start_deletion, start_revision
from fountain_saga.topology import function

SagaPath = Literal["success", "rollback"]
PATHS: tuple[SagaPath, ...] = ("success", "rollback")
FAIL_AT = "CreateTransitions"
EXPECTED_STATUS = {"success": "COMPLETED", "rollback": "ROLLED_BACK"}
# describe_execution costs ~0.7 ms of the one GIL the engine also needs; 20 ms keeps that near
# 3% and adds 10 ms on average to a measured time.
WAIT_POLL_SECONDS = 0.02
WARM_UP_SPEECHES = 20
KEY = "playVersion"  # every entity table's partition key: "<playId>.<version>"


class BenchFailure(Exception):
    """A measured saga did not end as it must; the benchmark's figures would mean nothing."""


class Started(Protocol):
    """What the intake and the play changes answer with, as far as timing a saga needs."""

    @property
    def play_id(self) -> str: ...

    @property
    def execution_arn(self) -> str: ...


@dataclass
class SagaRun:
    play_id: str
    status: str  # the saga's
    play_status: str
    version: int  # the play's current version once the saga ended (a deletion's: the one deleted)
    elapsed_seconds: float
    intake_seconds: float
    counts: dict[str, int]
    figures: ExecutionFigures
    lambda_invocations: int
    lambda_seconds: dict[str, float]
    writes: WriteTally
    s3_calls: Counter[str]
    ledger_item_bytes: int


def fault_of(path: SagaPath) -> FaultPlan | None:
    return FaultPlan(step=FAIL_AT, mode="partial") if path == "rollback" else None


class Bench:
    """Probes attached to one local AWS; measures sagas and floors in it."""

    def __init__(self, aws: LocalAws) -> None:
        self.aws = aws
        self.sfn = aws.client("stepfunctions")
        self.ddb = dynamodb_client()
        self.writes = ClientProbe(self.ddb, frozenset({"BatchWriteItem", "UpdateItem", "PutItem"}))
        self.s3 = ClientProbe(s3_client(), frozenset({"PutObject", "GetObject"}))

    def close(self) -> None:
        self.writes.close()
        self.s3.close()

    def __enter__(self) -> Bench:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # -- one saga --------------------------------------------------------------------------------
    def run_saga(self, text: str, path: SagaPath) -> SagaRun:
        arn = self.aws.resources.state_machine_arn
        return self._timed(
            lambda: start_play(PlayRequest(text=text, fault=fault_of(path)), state_machine_arn=arn)
        )

    def run_revision(self, play_id: str, text: str) -> SagaRun:
        arn = self.aws.resources.state_machine_arn
        return self._timed(lambda: start_revision(play_id, PlayRequest(text=text), state_machine_arn=arn))

    def run_deletion(self, play_id: str) -> SagaRun:
        arn = self.aws.resources.state_machine_arn
        return self._timed(lambda: start_deletion(play_id, state_machine_arn=arn))

    def _timed(self, start: Callable[[], Started]) -> SagaRun:
        """From the request's intake until the execution is seen to have ended."""
        self.writes.settle()
        self.s3.settle()
        invocations = INVOCATIONS.total()
        seconds = dict(INVOCATIONS.seconds)
        gc.collect()
        started = time.monotonic()
        play = start()
        intake = time.monotonic() - started
        self.wait(play.execution_arn)
        elapsed = time.monotonic() - started
        writes = self.writes.settle()
        s3_calls = self.s3.settle().calls
        entry = ledger.get_entry(play.play_id)
        version = int(entry.version) if entry else 1
        return SagaRun(
            play_id=play.play_id,
            status=entry.status if entry else "UNKNOWN",
            play_status=str(entry.play_status) if entry else "UNKNOWN",
            version=version,
            elapsed_seconds=elapsed,
            intake_seconds=intake,
            counts=count_rows(play.play_id, version=version),
            figures=execution_figures(history(self.sfn, play.execution_arn)),
            lambda_invocations=INVOCATIONS.total() - invocations,
            lambda_seconds={
                name: total - seconds.get(name, 0.0)
                for name, total in INVOCATIONS.seconds.items()
                if total > seconds.get(name, 0.0)
            },
            writes=writes,
            s3_calls=s3_calls,
            ledger_item_bytes=self._ledger_item_bytes(play.play_id),
        )

    def wait(self, execution_arn: str, timeout: float = 900.0) -> str:
        deadline = time.monotonic() + timeout
        while True:
            status = str(self.sfn.describe_execution(executionArn=execution_arn)["status"])
            if status != "RUNNING":
                return status
            if time.monotonic() > deadline:
                raise BenchFailure(f"{execution_arn} still RUNNING after {timeout:.0f} s")
            time.sleep(WAIT_POLL_SECONDS)

    def _ledger_item_bytes(self, play_id: str) -> int:
        table = self.aws.resources.table_names["ledger"]
        item = self.ddb.get_item(TableName=table, Key={"playId": {"S": play_id}}, ConsistentRead=True)
        return item_size(item.get("Item", {}))

    # -- the floor -------------------------------------------------------------------------------
    def floor_seconds(self, batches: list[Batch], existing: list[Batch] | None = None) -> float:
        """Replay the handlers' batch writes under a fresh play id; time only the writes.

        The rows ``existing`` puts are there first (untimed): a saga that deletes a version
        deletes rows that exist, and deleting absent keys would make its floor too cheap.
        """
        play_id = uuid.uuid4().hex
        before = _rekeyed_batches(_puts(existing or []), play_id)
        for batch in before:
            batch_write(batch.table, batch.requests, client=self.ddb)
        replay = _rekeyed_batches(batches, play_id)
        gc.collect()
        started = time.monotonic()
        for batch in replay:
            batch_write(batch.table, batch.requests, client=self.ddb)
        seconds = time.monotonic() - started
        self.clear(before + replay)
        return seconds

    def clear(self, batches: list[Batch]) -> None:
        """Delete whatever a replay or a completed saga left, so every run starts alike (untimed)."""
        keys: dict[str, list[dict[str, Any]]] = {}
        for batch in batches:
            for request in batch.requests:
                if "PutRequest" in request:
                    item = request["PutRequest"]["Item"]
                    keys.setdefault(batch.table, []).append({KEY: item[KEY], "seq": item["seq"]})
        for table, table_keys in keys.items():
            batch_write(table, delete_requests(table_keys), client=self.ddb)


def _puts(batches: list[Batch]) -> list[Batch]:
    puts = [Batch(b.table, [r for r in b.requests if "PutRequest" in r]) for b in batches]
    return [b for b in puts if b.requests]


def _rekeyed_batches(batches: list[Batch], play_id: str) -> list[Batch]:
    return [Batch(b.table, [_rekeyed(r, play_id) for r in b.requests]) for b in batches]


def _rekeyed(request: dict[str, Any], play_id: str) -> dict[str, Any]:
    """The same row of the same version, of another play."""
    if "PutRequest" in request:
        item = request["PutRequest"]["Item"]
        return {"PutRequest": {"Item": {**item, KEY: _moved(item[KEY], play_id)}}}
    key = request["DeleteRequest"]["Key"]
    return {"DeleteRequest": {"Key": {**key, KEY: _moved(key[KEY], play_id)}}}


def _moved(partition: dict[str, str], play_id: str) -> dict[str, str]:
    _, dot, version = partition["S"].partition(".")
    return {"S": f"{play_id}{dot}{version}"}


# -- one size, one path ---------------------------------------------------------------------------
class AgainstFloor:
    """A saga's timings against its floor's, run by run, kept in results.json as they are."""

    elapsed_seconds: list[float]
    floor_seconds: list[float]

    @property
    def elapsed_median(self) -> float:
        return statistics.median(self.elapsed_seconds)

    @property
    def floor_median(self) -> float:
        return statistics.median(self.floor_seconds)

    @property
    def ratio(self) -> float:
        return self.elapsed_median / self.floor_median

    def to_json(self) -> dict[str, Any]:
        return dict(vars(self))

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Self:
        return cls(**raw)


@dataclass
class SizeResult(AgainstFloor):
    speeches: int
    path: SagaPath
    runs: int
    rows: int
    rows_deleted: int
    elapsed_seconds: list[float]
    floor_seconds: list[float]
    state_transitions: int
    lambda_invocations: int
    write_requests: int
    write_calls: dict[str, int]
    write_units: int
    ledger_updates: int
    ledger_item_bytes: int
    events_published: int
    s3_calls: dict[str, int]
    retries: int
    max_payload_bytes: int
    lambda_gb_seconds: float
    intake_seconds: float
    peak_rss_mb: float = 0.0


def warm_up(bench: Bench) -> None:
    """Pay the one-time costs (imports, the engine's first parse) before anything is timed."""
    text = generate_play(WARM_UP_SPEECHES)
    for path in PATHS:
        run = bench.run_saga(text, path)
        bench.clear(run.writes.batches)


def measure_size(bench: Bench, speeches: int, path: SagaPath, runs: int) -> SizeResult:
    """Run the saga ``runs`` times at this size, each followed by its floor; check every outcome."""
    shape = PlayShape.for_speeches(speeches)
    text = generate_play(speeches)
    sagas: list[SagaRun] = []
    floors: list[float] = []
    for _ in range(runs):
        run = bench.run_saga(text, path)
        check_outcome(run, shape, path)
        floors.append(bench.floor_seconds(run.writes.batches))
        bench.clear(run.writes.batches)
        sagas.append(run)
    last = sagas[-1]
    memory_gb = {name: function(name).memory_mb / 1024 for name in last.lambda_seconds}
    return SizeResult(
        speeches=speeches,
        path=path,
        runs=runs,
        rows=last.writes.rows_put,
        rows_deleted=last.writes.rows_deleted,
        elapsed_seconds=[s.elapsed_seconds for s in sagas],
        floor_seconds=floors,
        state_transitions=max(s.figures.state_transitions for s in sagas),
        lambda_invocations=max(s.lambda_invocations for s in sagas),
        write_requests=max(s.writes.write_requests for s in sagas),
        write_calls=dict(last.writes.calls),
        write_units=last.writes.write_units,
        ledger_updates=max(s.figures.ledger_updates for s in sagas),
        ledger_item_bytes=last.ledger_item_bytes,
        events_published=last.figures.events_published,
        s3_calls=dict(last.s3_calls),
        retries=sum(s.figures.retries for s in sagas),
        max_payload_bytes=max(s.figures.max_payload_bytes for s in sagas),
        lambda_gb_seconds=statistics.median(
            sum(sec * memory_gb.get(name, 1.0) for name, sec in s.lambda_seconds.items()) for s in sagas
        ),
        intake_seconds=statistics.median(s.intake_seconds for s in sagas),
    )


def check_outcome(run: SagaRun, shape: PlayShape, path: SagaPath) -> None:
    expected_rows = {"script": 1, **shape.counts()} if path == "success" else dict.fromkeys(run.counts, 0)
    if run.status != EXPECTED_STATUS[path] or run.counts != expected_rows:
        raise BenchFailure(
            f"{shape.speeches} speeches, {path}: saga ended {run.status} with rows {run.counts}, "
            f"expected {EXPECTED_STATUS[path]} with {expected_rows}"
        )
    if run.figures.retries:
        raise BenchFailure(f"{shape.speeches} speeches, {path}: {run.figures.retries} task retries")


# -- many sagas at once ---------------------------------------------------------------------------
@dataclass
class ConcurrentResult:
    sagas: int
    speeches: int
    wall_seconds: float
    statuses: dict[str, int]
    exact: int
    retries: int
    peak_rss_mb: float = 0.0

    @property
    def sagas_per_minute(self) -> float:
        return self.sagas / self.wall_seconds * 60

    @property
    def all_completed_exactly(self) -> bool:
        return self.statuses == {"COMPLETED": self.sagas} and self.exact == self.sagas

    def to_json(self) -> dict[str, Any]:
        return {k: v for k, v in vars(self).items()}

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> ConcurrentResult:
        return cls(**raw)


def measure_concurrent(bench: Bench, speeches: int, sagas: int) -> ConcurrentResult:
    """Start every saga, then wait for all; read each play's rows back from the tables."""
    shape = PlayShape.for_speeches(speeches)
    expected = {"script": 1, **shape.counts()}
    text = generate_play(speeches)
    arn = bench.aws.resources.state_machine_arn
    gc.collect()
    started = time.monotonic()
    plays = [start_play(PlayRequest(text=text), state_machine_arn=arn) for _ in range(sagas)]
    running = {p.execution_arn for p in plays}
    while running:
        for execution_arn in list(running):
            if bench.sfn.describe_execution(executionArn=execution_arn)["status"] != "RUNNING":
                running.discard(execution_arn)
        if running:
            time.sleep(0.1)
    wall = time.monotonic() - started
    statuses: Counter[str] = Counter()
    exact = retries = 0
    for play in plays:
        entry = ledger.get_entry(play.play_id)
        statuses[entry.status if entry else "UNKNOWN"] += 1
        exact += count_rows(play.play_id) == expected
        retries += execution_figures(history(bench.sfn, play.execution_arn)).retries
    return ConcurrentResult(sagas, speeches, wall, dict(statuses), exact, retries)
