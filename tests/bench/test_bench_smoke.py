"""The benchmark at toy sizes, in this process: the code `make bench` runs, kept from rotting.

Timings at these sizes are all fixed cost, so the elapsed / floor target is left to `make bench`;
every other target of issue 5 holds at any size and is checked here.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from bench import report
from bench.measure import PATHS
from bench.playgen import PlayShape, generate_play
from bench.run import BenchConfig, BenchOutcome, run_bench
from fountain_saga.play.fountain_import import parse_play

SIZES = (20, 60)
SIZE_KEYS = {
    "speeches",
    "path",
    "rows",
    "elapsedSeconds",
    "floorSeconds",
    "ratio",
    "stateTransitions",
    "lambdaInvocations",
    "writeRequests",
    "maxStatePayloadBytes",
    "peakRssMb",
}


@pytest.fixture(scope="module")
def outcome(local_aws: Any) -> BenchOutcome:
    config = BenchConfig(sizes=SIZES, runs=1, concurrent_sagas=2, concurrent_speeches=SIZES[-1])
    return run_bench(config, aws=local_aws, progress=lambda _: None)


@pytest.mark.parametrize("speeches", [*SIZES, 1000])
def test_a_generated_play_is_the_same_every_time_and_parses_to_its_shape(speeches: int) -> None:
    text = generate_play(speeches)
    assert generate_play(speeches) == text
    assert parse_play(text).counts() == PlayShape.for_speeches(speeches).counts()


def test_every_size_and_path_was_measured_and_written_whole(outcome: BenchOutcome) -> None:
    assert [(r.speeches, r.path) for r in outcome.sizes] == [(n, p) for n in SIZES for p in PATHS]
    for result in outcome.sizes:
        shape = PlayShape.for_speeches(result.speeches)
        if result.path == "success":
            assert result.rows == shape.rows and result.rows_deleted == 0
        else:
            # Every row before CreateTransitions and part of the transitions; then every key deleted.
            assert shape.rows - shape.transitions <= result.rows <= shape.rows - shape.transitions // 2
            assert result.rows_deleted == shape.rows
        assert result.elapsed_median > 0 and result.floor_median > 0


def test_transitions_and_invocations_do_not_grow_with_the_play(outcome: BenchOutcome) -> None:
    for path in PATHS:
        results = [r for r in outcome.sizes if r.path == path]
        assert len({r.state_transitions for r in results}) == 1, path
        assert len({r.lambda_invocations for r in results}) == 1, path
    assert _target(outcome, "State transitions").met


def test_write_requests_are_one_per_25_rows_plus_at_most_one_per_step(outcome: BenchOutcome) -> None:
    for result in outcome.sizes:
        bound = math.ceil((result.rows + result.rows_deleted) / 25) + result.lambda_invocations
        assert result.write_requests <= bound, (result.speeches, result.path)
    assert _target(outcome, "Write requests").met


def test_state_payload_stays_far_below_the_limit(outcome: BenchOutcome) -> None:
    assert max(r.max_payload_bytes for r in outcome.sizes) < 8 * 1024


def test_no_task_was_retried(outcome: BenchOutcome) -> None:
    # The session's local AWS skips retry waits; a retry would hide time, so there must be none.
    assert [r.retries for r in outcome.sizes] == [0] * len(outcome.sizes)
    assert outcome.concurrent is not None and outcome.concurrent.retries == 0


def test_concurrent_sagas_all_complete_with_exact_counts(outcome: BenchOutcome) -> None:
    assert outcome.concurrent is not None
    assert outcome.concurrent.statuses == {"COMPLETED": 2}
    assert outcome.concurrent.exact == 2
    assert _target(outcome, "concurrent").met


def test_results_are_written_in_the_issue_shape(outcome: BenchOutcome, tmp_path: Path) -> None:
    paths = report.write_outputs(outcome.document, outcome.targets, tmp_path)

    document = json.loads(paths["json"].read_text())
    assert set(document) == {"machine", "sizes", "concurrent", "costPerPlayUsd"}
    assert all(set(entry) == SIZE_KEYS for entry in document["sizes"])
    assert {entry["path"] for entry in document["sizes"]} == {"success", "rollback"}
    assert document["concurrent"]["allCompletedWithExactCounts"] is True
    costs = document["costPerPlayUsd"]
    assert costs["region"] == "us-east-1"
    for play, entry in zip(costs["plays"], document["sizes"], strict=True):
        transitions_usd = (
            entry["stateTransitions"] * costs["prices"]["stepFunctionsStandardPerStateTransition"]
        )
        assert play["usd"]["stepFunctions"] == pytest.approx(transitions_usd, abs=1e-7)
        assert play["usd"]["total"] >= sum(v for k, v in play["usd"].items() if k != "total") - 1e-6
    assert paths["plot"].read_bytes().startswith(b"\x89PNG")
    assert "| 60 | rollback |" in paths["markdown"].read_text()


def test_the_readme_block_is_rewritten_and_nothing_else(outcome: BenchOutcome, tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text(
        f"# Title\n\n## Benchmark\n\n{report.README_START}\nold\n{report.README_END}\n\n## After\n"
    )

    report.update_readme(readme, "new table")

    assert readme.read_text() == (
        f"# Title\n\n## Benchmark\n\n{report.README_START}\nnew table\n{report.README_END}\n\n## After\n"
    )


def _target(outcome: BenchOutcome, name_part: str) -> Any:
    return next(t for t in outcome.targets if name_part in t.name)
