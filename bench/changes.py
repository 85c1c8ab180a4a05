"""Revising and deleting a play, each against its floor: the same rows written and deleted directly.

Each run creates a play (untimed), revises it to another play of the same size, then deletes it,
each saga timed like the create's: from its request's intake until the execution is seen to have
ended. The floors replay the handlers' batch writes, as the create's does, under a fresh play id:
the revision's puts the new version's rows and deletes the old one's, the deletion's deletes the
play's. The rows they delete are put there first, untimed, so the floor deletes rows that exist
as the saga did.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import Literal

from bench.measure import WARM_UP_SPEECHES, AgainstFloor, Bench, BenchFailure, SagaRun, check_outcome
from bench.playgen import SEED, PlayShape, generate_play
from fountain_saga.entities.heads import read_head
from fountain_saga.entities.reader import count_rows

Operation = Literal["revise", "delete"]
OPERATIONS: tuple[Operation, ...] = ("revise", "delete")
# Another play of the same size: a revision that rewrote the same text would prove nothing.
REVISION_SEED = SEED + 1


@dataclass
class ChangeResult(AgainstFloor):
    operation: Operation
    speeches: int
    runs: int
    rows_written: int
    rows_deleted: int
    elapsed_seconds: list[float]
    floor_seconds: list[float]
    state_transitions: int
    lambda_invocations: int
    write_requests: int
    retries: int
    max_payload_bytes: int
    intake_seconds: float
    peak_rss_mb: float = 0.0


def measure_changes(bench: Bench, speeches: int, runs: int) -> list[ChangeResult]:
    """Create, revise and delete a play of this size ``runs`` times; the revisions', then the deletions'."""
    shape = PlayShape.for_speeches(speeches)
    first = generate_play(speeches)
    second = generate_play(speeches, seed=REVISION_SEED)
    sagas: dict[Operation, list[SagaRun]] = {op: [] for op in OPERATIONS}
    floors: dict[Operation, list[float]] = {op: [] for op in OPERATIONS}
    for _ in range(runs):
        created = bench.run_saga(first, "success")
        check_outcome(created, shape, "success")
        revised = bench.run_revision(created.play_id, second)
        check_revision(revised, shape)
        floors["revise"].append(bench.floor_seconds(revised.writes.batches, existing=created.writes.batches))
        deleted = bench.run_deletion(created.play_id)
        check_deletion(deleted, shape)
        floors["delete"].append(bench.floor_seconds(deleted.writes.batches, existing=revised.writes.batches))
        sagas["revise"].append(revised)
        sagas["delete"].append(deleted)
    return [_result(op, speeches, sagas[op], floors[op]) for op in OPERATIONS]


def warm_up_changes(bench: Bench) -> None:
    """The revise and delete machines' first runs pay one-time costs the create's warm-up does not."""
    measure_changes(bench, WARM_UP_SPEECHES, 1)


def _result(operation: Operation, speeches: int, sagas: list[SagaRun], floors: list[float]) -> ChangeResult:
    last = sagas[-1]
    return ChangeResult(
        operation=operation,
        speeches=speeches,
        runs=len(sagas),
        rows_written=last.writes.rows_put,
        rows_deleted=last.writes.rows_deleted,
        elapsed_seconds=[s.elapsed_seconds for s in sagas],
        floor_seconds=floors,
        state_transitions=max(s.figures.state_transitions for s in sagas),
        lambda_invocations=max(s.lambda_invocations for s in sagas),
        write_requests=max(s.writes.write_requests for s in sagas),
        retries=sum(s.figures.retries for s in sagas),
        max_payload_bytes=max(s.figures.max_payload_bytes for s in sagas),
        intake_seconds=statistics.median(s.intake_seconds for s in sagas),
    )


def check_revision(run: SagaRun, shape: PlayShape) -> None:
    """Readers see the new version, whole, and nothing of the old one is left."""
    expected = {"script": 1, **shape.counts()}
    old = count_rows(run.play_id, version=run.version - 1)
    if (run.status, run.play_status, run.version) != ("COMPLETED", "COMPLETED", 2) or run.counts != expected:
        raise BenchFailure(
            f"{shape.speeches} speeches, revise: saga ended {run.status} (play {run.play_status}) at "
            f"version {run.version} with rows {run.counts}, expected COMPLETED at version 2 with {expected}"
        )
    if any(old.values()):
        raise BenchFailure(f"{shape.speeches} speeches, revise: the replaced version kept rows {old}")
    _no_retries(run, shape, "revise")


def check_deletion(run: SagaRun, shape: PlayShape) -> None:
    """Nothing of the play is left, its head included (check_revision saw the older version go).

    Queries of the version deleted, not rows_of_play's Scans: those cost as much as every play
    in the tables, and the smoke test's share a session with every other test's.
    """
    left = {kind: n for kind, n in run.counts.items() if n}
    if read_head(run.play_id) is not None:
        left["head"] = 1
    if (run.status, run.play_status) != ("COMPLETED", "DELETED") or left:
        raise BenchFailure(
            f"{shape.speeches} speeches, delete: saga ended {run.status} (play {run.play_status}) "
            f"with rows {left} left, expected COMPLETED, DELETED and none"
        )
    _no_retries(run, shape, "delete")


def _no_retries(run: SagaRun, shape: PlayShape, operation: Operation) -> None:
    # A retried step is not the path measured: its wait and second attempt would be timed too.
    if run.figures.retries:
        raise BenchFailure(f"{shape.speeches} speeches, {operation}: {run.figures.retries} task retries")
