"""The benchmark at toy sizes, in this process: the code `make bench` runs, kept from rotting.

Timings at these sizes are all fixed cost, so the targets on time are left to `make bench`; every
other target holds at any size and is checked here, as are the outcomes the timed code must reach
(the parse shapes' outcomes, the read path's text and counts).
"""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from bench import parse_shapes, report
from bench.changes import OPERATIONS
from bench.measure import PATHS, Bench, BenchFailure
from bench.parse_shapes import PREFIX, SHAPE_BYTES, SHAPES, Shape, measure_shape, shape_text
from bench.playgen import PlayShape, generate_play
from bench.read_path import store_play, time_floor, time_load_and_render, time_play_view
from bench.run import BenchConfig, BenchOutcome, run_bench
from fountain_saga.play.fountain_import import PlayRejected, PlayTooLarge, parse_play
from fountain_saga.play.fountain_syntax import normalise

pytestmark = pytest.mark.slow

SIZES = (20, 60)
PARSE_BYTES = 64 * 1024
READ_SIZES = (20,)
# Three sagas a run: one size keeps the test short; `make bench` checks them at three sizes.
CHANGE_SIZES = SIZES[:1]
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
    config = BenchConfig(
        sizes=SIZES,
        runs=1,
        concurrent_sagas=2,
        concurrent_speeches=SIZES[-1],
        parse_bytes=PARSE_BYTES,
        parse_runs=1,
        read_sizes=READ_SIZES,
        read_runs=1,
        change_sizes=CHANGE_SIZES,
    )
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


def test_a_play_was_revised_and_deleted_at_each_size_with_all_its_rows(outcome: BenchOutcome) -> None:
    assert [(r.speeches, r.operation) for r in outcome.changes] == [
        (n, op) for n in CHANGE_SIZES for op in OPERATIONS
    ]
    for result in outcome.changes:
        rows = PlayShape.for_speeches(result.speeches).rows
        # A revision writes its version whole and deletes the one it replaced; a deletion only deletes.
        written = rows if result.operation == "revise" else 0
        assert (result.rows_written, result.rows_deleted) == (written, rows), result
        assert result.elapsed_median > 0 and result.floor_median > 0
        assert result.retries == 0
        bound = math.ceil((result.rows_written + result.rows_deleted) / 25) + result.lambda_invocations
        assert result.write_requests <= bound, (result.speeches, result.operation)


def test_revise_and_delete_have_their_targets(outcome: BenchOutcome) -> None:
    assert _target(outcome, "Revise and delete: state transitions").met
    assert _target(outcome, "Revise and delete: elapsed / floor").name


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
    assert set(document) == {
        "machine",
        "sizes",
        "changes",
        "concurrent",
        "parseShapes",
        "readPath",
        "engines",
        "costPerPlayUsd",
    }
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
    markdown = paths["markdown"].read_text()
    assert "| 60 | rollback |" in markdown
    assert [(e["speeches"], e["operation"]) for e in document["changes"]] == [
        (n, op) for n in CHANGE_SIZES for op in OPERATIONS
    ]
    assert f"| 20 | delete | 0 | {PlayShape.for_speeches(20).rows} |" in markdown
    assert [entry["shape"] for entry in document["parseShapes"]] == [shape.name for shape in SHAPES]
    assert '| deep emphasis nesting ("\\*\\_" \\* n + "x" + "\\_\\*" \\* n) | 65,536 |' in markdown
    assert [entry["speeches"] for entry in document["readPath"]["sizes"]] == list(READ_SIZES)
    assert f"| 20 | {PlayShape.for_speeches(20).rows} |" in markdown


def test_writes_are_priced_at_the_current_on_demand_rate(outcome: BenchOutcome) -> None:
    prices = outcome.document["costPerPlayUsd"]["prices"]
    assert prices["dynamodbOnDemandPerWriteRequestUnit"] == pytest.approx(0.625e-6)
    markdown = report.markdown(outcome.document, outcome.targets)
    assert "DynamoDB on-demand $0.625 per million write request units" in markdown
    # The prices say when they were read off AWS's pricing pages.
    assert f"list prices checked {outcome.document['costPerPlayUsd']['pricesChecked']}" in markdown


# -- parse worst cases ----------------------------------------------------------------------------
@pytest.mark.parametrize("size", [SHAPE_BYTES, PARSE_BYTES])
def test_every_shape_is_a_play_of_exactly_the_size(size: int) -> None:
    for shape in SHAPES:
        text = shape_text(shape, size)
        assert text.startswith(PREFIX), shape.name
        if shape.name.startswith(f"{parse_shapes.BLANK_LINES:,} blank lines"):
            assert len(text.encode()) <= size and text.endswith("\nBOB\nHi.\n")
        else:
            assert len(text.encode()) == size, shape.name


def test_every_shape_was_timed_with_its_outcome(outcome: BenchOutcome) -> None:
    codes = {PlayRejected.code, PlayTooLarge.code}
    assert [r.shape for r in outcome.parse] == [shape.name for shape in SHAPES]
    for result in outcome.parse:
        assert result.outcome == "accepted" or result.outcome in codes, result
        assert bool(result.detail) == (result.outcome != "accepted"), result
        assert len(result.seconds) == 1 and result.median > 0
        assert result.text_bytes == len(shape_text(_shape(result.shape), PARSE_BYTES).encode())
    assert _target(outcome, "prepare_play").name


def test_a_parse_that_fails_otherwise_than_by_refusing_stops_the_benchmark(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken(_: str) -> None:
        raise RecursionError("maximum recursion depth exceeded")

    monkeypatch.setattr(parse_shapes, "prepare_play", broken)
    with pytest.raises(BenchFailure, match="RecursionError"):
        measure_shape(SHAPES[0], PARSE_BYTES, runs=1)


# -- read path ------------------------------------------------------------------------------------
def test_the_read_path_was_timed_on_each_stored_play(outcome: BenchOutcome) -> None:
    read = outcome.read
    assert read is not None and read.runs == 1
    assert [r.speeches for r in read.sizes] == list(READ_SIZES)
    for result in read.sizes:
        assert result.rows == PlayShape.for_speeches(result.speeches).rows
        assert result.text_bytes == len(normalise(generate_play(result.speeches)).encode())
        timings = (result.load_render_seconds, result.floor_seconds, result.play_view_seconds)
        assert all(len(seconds) == 1 and seconds[0] > 0 for seconds in timings)
    assert read.baseline_speeches == 1 and len(read.baseline_play_view_seconds) == 1
    assert _target(outcome, "render_fountain").name and _target(outcome, "play_view").name


def test_a_read_that_gives_back_the_wrong_play_stops_the_benchmark(local_aws: Any) -> None:
    with Bench(local_aws) as bench:
        play = store_play(bench, 1)
    time_load_and_render(play)
    time_floor(play)
    time_play_view(play)
    with pytest.raises(BenchFailure, match="differs from the normalised text"):
        time_load_and_render(replace(play, expected_text=play.expected_text + "\n"))
    other = PlayShape.for_speeches(40)
    with pytest.raises(BenchFailure, match="the floor read"):
        time_floor(replace(play, shape=other))
    with pytest.raises(BenchFailure, match="GET /plays"):
        time_play_view(replace(play, shape=other))


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


def _shape(name: str) -> Shape:
    return next(shape for shape in SHAPES if shape.name == name)
