"""The read path: what the API's two GET routes for one play cost, against a floor.

Plays are stored the way the API stores them, by a saga on the local runtime. Then, for each:

- ``GET /plays/{id}/fountain``'s work: ``load_play`` and ``render_fountain``, whose text must be
  the play's normalised text exactly;
- its floor: the same rows fetched with nothing done to them, through the same client: a GetItem
  of the script row and a paginated, consistent Query per entity table (not the play's head,
  which ``load_play`` reads before and after them so it never mixes two versions);
- ``GET /plays/{id}``'s work: the ledger entry read and turned into the view, which must not grow
  with the play (its counts come from the ledger, not the tables), so it is also measured on a
  play of one speech, the baseline it is compared with.

The three are timed in turn within each run, so a slow moment of the machine falls on all of them.
"""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from bench.measure import Bench, BenchFailure, check_outcome
from bench.playgen import PlayShape, generate_play
from fountain_saga.api.views import play_view
from fountain_saga.entities.batch_store import dynamodb_client
from fountain_saga.entities.models import ENTITY_MODELS
from fountain_saga.entities.reader import load_play
from fountain_saga.entities.records import key_of, partition_of
from fountain_saga.entities.service import SCRIPT_SEQ
from fountain_saga.play.fountain_export import render_fountain
from fountain_saga.play.fountain_syntax import normalise
from fountain_saga.saga import ledger

RUNS = 5
BASELINE_SPEECHES = 1
QUERIED_KINDS = ("acts", "scenes", "characters", "dialogue", "transitions")


@dataclass
class StoredPlay:
    speeches: int
    play_id: str
    expected_text: str
    shape: PlayShape


@dataclass
class ReadSizeResult:
    speeches: int
    rows: int
    text_bytes: int
    load_render_seconds: list[float]
    floor_seconds: list[float]
    play_view_seconds: list[float]

    @property
    def load_render_median(self) -> float:
        return statistics.median(self.load_render_seconds)

    @property
    def floor_median(self) -> float:
        return statistics.median(self.floor_seconds)

    @property
    def ratio(self) -> float:
        return self.load_render_median / self.floor_median

    @property
    def play_view_median(self) -> float:
        return statistics.median(self.play_view_seconds)


@dataclass
class ReadPathResult:
    runs: int
    sizes: list[ReadSizeResult]
    baseline_speeches: int
    baseline_play_view_seconds: list[float]

    @property
    def baseline_play_view_median(self) -> float:
        return statistics.median(self.baseline_play_view_seconds)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> ReadPathResult:
        return cls(**{**raw, "sizes": [ReadSizeResult(**entry) for entry in raw["sizes"]]})


def store_play(bench: Bench, speeches: int) -> StoredPlay:
    """A play of this size stored by a saga to COMPLETED, with exactly its rows."""
    shape = PlayShape.for_speeches(speeches)
    text = generate_play(speeches)
    run = bench.run_saga(text, "success")
    check_outcome(run, shape, "success")
    return StoredPlay(speeches, run.play_id, normalise(text), shape)


# -- the three timed reads ------------------------------------------------------------------------
def time_load_and_render(play: StoredPlay) -> float:
    gc.collect()
    started = time.perf_counter()
    document = load_play(play.play_id)
    text = render_fountain(document) if document is not None else None
    seconds = time.perf_counter() - started
    if text != play.expected_text:
        raise BenchFailure(f"{play.speeches} speeches: GET /fountain's text {_difference(text, play)}")
    return seconds


def time_floor(play: StoredPlay, client: Any = None) -> float:
    """The rows ``load_play`` reads, fetched as plainly as DynamoDB allows; the items are dropped."""
    client = client or dynamodb_client()
    partition = partition_of(play.play_id, 1)
    gc.collect()
    started = time.perf_counter()
    script = client.get_item(
        TableName=ENTITY_MODELS["script"].Meta.table_name,
        Key=key_of(partition, SCRIPT_SEQ),
        ConsistentRead=True,
    )
    rows = 1 if "Item" in script else 0
    for kind in QUERIED_KINDS:
        request: dict[str, Any] = {
            "TableName": ENTITY_MODELS[kind].Meta.table_name,
            "KeyConditionExpression": "playVersion = :p",
            "ExpressionAttributeValues": {":p": {"S": partition}},
            "ConsistentRead": True,
        }
        while True:
            page = client.query(**request)
            rows += page["Count"]
            if "LastEvaluatedKey" not in page:
                break
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    seconds = time.perf_counter() - started
    if rows != play.shape.rows:
        raise BenchFailure(f"{play.speeches} speeches: the floor read {rows} rows, not {play.shape.rows}")
    return seconds


def time_play_view(play: StoredPlay) -> float:
    gc.collect()
    started = time.perf_counter()
    entry = ledger.get_entry(play.play_id)
    view = play_view(entry) if entry is not None else None
    seconds = time.perf_counter() - started
    expected = {"status": "COMPLETED", "counts": play.shape.counts()}
    if view is None or {key: view[key] for key in expected} != expected:
        got = view and {key: view[key] for key in expected}
        raise BenchFailure(f"{play.speeches} speeches: GET /plays/{{id}} gave {got}, expected {expected}")
    return seconds


def _difference(text: str | None, play: StoredPlay) -> str:
    if text is None:
        return "is missing: load_play found no completed play"
    at = next(
        (i for i, (a, b) in enumerate(zip(text, play.expected_text, strict=False)) if a != b),
        min(len(text), len(play.expected_text)),
    )
    got, expected = text[at : at + 40], play.expected_text[at : at + 40]
    return (
        f"differs from the normalised text at character {at:,} ({len(text):,} characters against "
        f"{len(play.expected_text):,}): {got!r} instead of {expected!r}"
    )


# -- all sizes ------------------------------------------------------------------------------------
def measure_read_path(bench: Bench, sizes: Sequence[int], runs: int = RUNS) -> ReadPathResult:
    baseline = store_play(bench, BASELINE_SPEECHES)
    plays = [store_play(bench, speeches) for speeches in sizes]
    # Untimed first reads check every play once and pay the decoders' first-use costs.
    for play in [baseline, *plays]:
        time_play_view(play)
    for play in plays:
        time_load_and_render(play)
        time_floor(play)
    results = [
        ReadSizeResult(play.speeches, play.shape.rows, len(play.expected_text.encode()), [], [], [])
        for play in plays
    ]
    baseline_view: list[float] = []
    for _ in range(runs):
        baseline_view.append(time_play_view(baseline))
        for play, result in zip(plays, results, strict=True):
            result.load_render_seconds.append(time_load_and_render(play))
            result.floor_seconds.append(time_floor(play))
            result.play_view_seconds.append(time_play_view(play))
    return ReadPathResult(
        runs=runs,
        sizes=results,
        baseline_speeches=BASELINE_SPEECHES,
        baseline_play_view_seconds=baseline_view,
    )
