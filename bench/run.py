"""`make bench`: measure the saga at each size, compare it with the floor, and write the results.

Then revising and deleting a play at each size (bench.changes), the intake on hostile texts
(bench.parse_shapes) and the read path (bench.read_path). Each size and path runs in a process of
its own (so its peak memory is its own and nothing it leaves behind slows the next), as do each
size's revisions and deletions, the parse shapes and the read path, one after another (two at
once would share the 2 cores they are timed on). ``run_bench(config, aws)`` runs everything in one
given local AWS instead: the smoke test does that.
"""

from __future__ import annotations

import argparse
import json
import logging
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import deadline_race, report, targets
from bench.changes import ChangeResult, measure_changes, warm_up_changes
from bench.measure import (
    PATHS,
    Bench,
    ConcurrentResult,
    SizeResult,
    measure_concurrent,
    measure_size,
    warm_up,
)
from bench.parse_shapes import SHAPE_BYTES, ParseResult, measure_parse_shapes
from bench.probes import peak_rss_mb
from bench.read_path import ReadPathResult, ReadSizeResult, measure_read_path
from fountain_local.dynamodb_engine import ENGINES, DynamoDbEngine, amazon_dir
from fountain_local.runtime import LocalAws

REPO = Path(__file__).resolve().parents[1]
DEFAULT_SIZES = (100, 1000, 5000)
ENGINE_SIZES = (1000, 5000)


@dataclass(frozen=True)
class BenchConfig:
    sizes: tuple[int, ...] = DEFAULT_SIZES
    runs: int = 5
    concurrent_sagas: int = 20
    concurrent_speeches: int = 1000
    parse_bytes: int = SHAPE_BYTES  # 0: no parse shapes
    parse_runs: int = 3
    read_sizes: tuple[int, ...] = DEFAULT_SIZES  # (): no read path
    read_runs: int = 5
    # The same write and read measures on each real DynamoDB engine `serve` can run (dynalite, and
    # Amazon DynamoDB Local when installed): (): none.
    engine_sizes: tuple[int, ...] = ENGINE_SIZES
    engine_runs: int = 3
    # A play too big for a 2 s step timeout, run after run: none may leave a row (0: not run).
    race_runs: int = 20
    # A play created, revised to another of its size, then deleted, `runs` times: (): none.
    change_sizes: tuple[int, ...] = DEFAULT_SIZES


@dataclass
class BenchOutcome:
    sizes: list[SizeResult]
    concurrent: ConcurrentResult | None
    document: dict[str, Any]
    targets: list[targets.Target]
    parse: list[ParseResult]
    read: ReadPathResult | None
    engines: list[EngineResult]
    changes: list[ChangeResult]

    @property
    def all_met(self) -> bool:
        return all(t.met for t in self.targets)


Progress = Callable[[str], None]


@dataclass(frozen=True)
class EngineResult:
    """One play size on one real DynamoDB engine: the saga's writes and the read path, each
    against its floor on that same engine."""

    engine: str
    write: SizeResult
    read: ReadSizeResult


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def quiet_engine_logs() -> None:
    # The engine logs every caught task failure as an error: on the rollback path that is the
    # saga working as designed, and a page of it per run would bury the benchmark's output.
    logging.getLogger("moto.stepfunctions.parser").setLevel(logging.CRITICAL)
    # Every handler shares this process (on Lambda each has its own). With metrics disabled,
    # Powertools keeps their values until a metric holds 100, prints and drops them, and the
    # next flush then warns that it has nothing to publish: noise, and nothing is lost.
    warnings.filterwarnings("ignore", message="No application metrics to publish")


def run_bench(config: BenchConfig, aws: LocalAws | None = None, progress: Progress = _stderr) -> BenchOutcome:
    """Measure every size and path, then the concurrent sagas; in subprocesses unless ``aws`` is given."""
    sizes: list[SizeResult] = []
    for speeches in config.sizes:
        for path in PATHS:
            progress(f"{speeches:,} speeches, {path} path: {config.runs} run(s) and floors ...")
            if aws is None:
                raw = _in_subprocess(
                    ["size", "--speeches", str(speeches), "--path", path, "--runs", str(config.runs)]
                )
                result = SizeResult.from_json(raw)
            else:
                with Bench(aws) as bench:
                    result = measure_size(bench, speeches, path, config.runs)
                    result.peak_rss_mb = peak_rss_mb()
            sizes.append(result)
            progress(
                f"  elapsed {_seconds(result.elapsed_seconds)}, floor {_seconds(result.floor_seconds)}\n"
                f"  median elapsed {result.elapsed_median:.2f} s, floor {result.floor_median:.2f} s, "
                f"ratio {result.ratio:.2f}, {result.state_transitions} transitions, "
                f"{result.write_requests} write requests"
            )
    changes = _changes(config, aws, progress)
    concurrent = None
    if config.concurrent_sagas:
        progress(f"{config.concurrent_sagas} concurrent sagas of {config.concurrent_speeches:,} speeches ...")
        if aws is None:
            raw = _in_subprocess(
                [
                    "concurrent",
                    "--speeches",
                    str(config.concurrent_speeches),
                    "--sagas",
                    str(config.concurrent_sagas),
                ]
            )
            concurrent = ConcurrentResult.from_json(raw)
        else:
            with Bench(aws) as bench:
                concurrent = measure_concurrent(bench, config.concurrent_speeches, config.concurrent_sagas)
                concurrent.peak_rss_mb = peak_rss_mb()
        progress(f"  {concurrent.sagas_per_minute:.0f} sagas per minute, statuses {concurrent.statuses}")
    parse = _parse_shapes(config, in_process=aws is not None, progress=progress)
    read = _read_path(config, aws, progress)
    engines = [] if aws is not None else _engines(config, progress)
    race = None if aws is not None or not config.race_runs else _race(config, progress)
    document = report.results_document(sizes, concurrent, parse, read, engines, changes=changes)
    document["machine"]["runs"] = config.runs
    met = targets.check(sizes, concurrent, parse, read, changes)
    if race is not None:
        document["deadlineRace"] = race
        met.append(targets.deadline_race(race))
    return BenchOutcome(sizes, concurrent, document, met, parse, read, engines, changes)


def _changes(config: BenchConfig, aws: LocalAws | None, progress: Progress) -> list[ChangeResult]:
    results: list[ChangeResult] = []
    for speeches in config.change_sizes:
        progress(f"{speeches:,} speeches: create, revise and delete, {config.runs} run(s), and floors ...")
        if aws is None:
            raw = _in_subprocess(["change", "--speeches", str(speeches), "--runs", str(config.runs)])
            measured = [ChangeResult.from_json(entry) for entry in raw["changes"]]
        else:
            with Bench(aws) as bench:
                measured = measure_changes(bench, speeches, config.runs)
            for result in measured:
                result.peak_rss_mb = peak_rss_mb()
        for result in measured:
            progress(
                f"  {result.operation}: elapsed {_seconds(result.elapsed_seconds)}, "
                f"floor {_seconds(result.floor_seconds)}\n"
                f"  {result.operation}: median elapsed {result.elapsed_median:.2f} s, floor "
                f"{result.floor_median:.2f} s, ratio {result.ratio:.2f}, "
                f"{result.state_transitions} transitions, {result.write_requests} write requests"
            )
        results += measured
    return results


def _race(config: BenchConfig, progress: Progress) -> dict[str, Any]:
    progress(f"a 10,000-speech play with a 2 s step timeout, {config.race_runs} run(s) ...")
    race = _in_subprocess(["race", "--runs", str(config.race_runs)])
    progress(
        f"  {race['statuses']}, rows left by a rolled-back run at most {race['maxRowsLeft']}, "
        f"median {race['medianElapsedSeconds']:.1f} s"
    )
    return race


def _engines(config: BenchConfig, progress: Progress) -> list[EngineResult]:
    if not config.engine_sizes:
        return []
    kinds = ["dynalite"] + (["amazon"] if amazon_dir() is not None else [])
    results = []
    for kind in kinds:
        progress(f"DynamoDB engine {kind}: success path and read path, {config.engine_runs} run(s) each ...")
        engine = ["--dynamodb", kind, "--runs", str(config.engine_runs)]
        read = ReadPathResult.from_json(
            _in_subprocess(["read", "--read-sizes", *map(str, config.engine_sizes), *engine])
        )
        for speeches, read_size in zip(config.engine_sizes, read.sizes, strict=True):
            write = SizeResult.from_json(
                _in_subprocess(["size", "--speeches", str(speeches), "--path", "success", *engine])
            )
            result = EngineResult(kind, write, read_size)
            results.append(result)
            writes = f"{write.elapsed_median:.2f} s / floor {write.floor_median:.2f} s = {write.ratio:.2f}"
            read_s, floor_s = read_size.load_render_median, read_size.floor_median
            reads = f"{read_s:.3f} s / floor {floor_s:.3f} s = {read_size.ratio:.2f}"
            progress(f"  {speeches:,} speeches: write {writes}; read {reads}")
    return results


def _parse_shapes(config: BenchConfig, *, in_process: bool, progress: Progress) -> list[ParseResult]:
    if not config.parse_bytes:
        return []
    progress(
        f"prepare_play on hostile texts of {config.parse_bytes:,} bytes, {config.parse_runs} run(s) each ..."
    )
    if in_process:
        parse = measure_parse_shapes(config.parse_bytes, config.parse_runs)
    else:
        raw = _in_subprocess(["parse", "--bytes", str(config.parse_bytes), "--runs", str(config.parse_runs)])
        parse = [ParseResult.from_json(entry) for entry in raw["shapes"]]
    for result in parse:
        progress(f"  {result.median:6.2f} s  {result.outcome:<16} {result.shape}")
    return parse


def _read_path(config: BenchConfig, aws: LocalAws | None, progress: Progress) -> ReadPathResult | None:
    if not config.read_sizes:
        return None
    sizes = ", ".join(f"{n:,}" for n in config.read_sizes)
    progress(f"read path at {sizes} speeches, {config.read_runs} run(s) each ...")
    if aws is None:
        raw = _in_subprocess(
            [
                "read",
                "--read-sizes",
                *map(str, config.read_sizes),
                "--runs",
                str(config.read_runs),
            ]
        )
        read = ReadPathResult.from_json(raw)
    else:
        with Bench(aws) as bench:
            read = measure_read_path(bench, config.read_sizes, config.read_runs)
    for entry in read.sizes:
        progress(
            f"  {entry.speeches:,} speeches: load + render {entry.load_render_median:.3f} s, floor "
            f"{entry.floor_median:.3f} s, ratio {entry.ratio:.2f}; "
            f"play_view {entry.play_view_median * 1000:.1f} ms"
        )
    progress(f"  {read.baseline_speeches} speech: play_view {read.baseline_play_view_median * 1000:.1f} ms")
    return read


def _seconds(values: list[float]) -> str:
    return " ".join(f"{v:.2f}" for v in values) + " s"


def _in_subprocess(worker_args: list[str]) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as scratch:
        out = Path(scratch) / "result.json"
        # A worker reports through --result and progress on stderr; its stdout carries only what
        # Powertools prints once a disabled metric has collected 100 values in one process.
        subprocess.run(
            [sys.executable, "-m", "bench.run", "--worker", *worker_args, "--result", str(out)],
            cwd=REPO,
            check=True,
            stdout=subprocess.DEVNULL,
        )
        result: dict[str, Any] = json.loads(out.read_text())
        return result


def _worker(args: argparse.Namespace) -> None:
    quiet_engine_logs()
    if args.worker == "race":
        Path(args.result).write_text(json.dumps(deadline_race.run(args.runs)))
        return
    if args.worker == "parse":
        # No local AWS: the intake's checks need none, and the shapes are timed without it running.
        shapes = measure_parse_shapes(args.bytes, args.runs)
        Path(args.result).write_text(json.dumps({"shapes": [r.to_json() for r in shapes]}))
        return
    engine = DynamoDbEngine(args.dynamodb, None) if args.dynamodb else None
    with LocalAws(dynamodb=engine) as aws, Bench(aws) as bench:
        warm_up(bench)
        if args.worker == "read":
            read = measure_read_path(bench, args.read_sizes, args.runs)
            Path(args.result).write_text(json.dumps(read.to_json()))
            return
        if args.worker == "change":
            warm_up_changes(bench)
            changes = measure_changes(bench, args.speeches, args.runs)
            for change in changes:
                change.peak_rss_mb = peak_rss_mb()
            Path(args.result).write_text(json.dumps({"changes": [c.to_json() for c in changes]}))
            return
        result: SizeResult | ConcurrentResult
        if args.worker == "size":
            result = measure_size(bench, args.speeches, args.path, args.runs)
        else:
            result = measure_concurrent(bench, args.speeches, args.sagas)
        result.peak_rss_mb = peak_rss_mb()
    Path(args.result).write_text(json.dumps(result.to_json()))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=list(DEFAULT_SIZES), help="speeches per play")
    parser.add_argument(
        "--runs", type=int, default=BenchConfig.runs, help="runs per size and path (the median is reported)"
    )
    parser.add_argument("--concurrent-sagas", type=int, default=20)
    parser.add_argument("--concurrent-speeches", type=int, default=1000)
    parser.add_argument(
        "--parse-bytes", type=int, default=SHAPE_BYTES, help="size of each hostile text (0: none)"
    )
    parser.add_argument("--parse-runs", type=int, default=BenchConfig.parse_runs)
    parser.add_argument(
        "--read-sizes", type=int, nargs="*", default=list(DEFAULT_SIZES), help="speeches per play read back"
    )
    parser.add_argument("--read-runs", type=int, default=BenchConfig.read_runs)
    parser.add_argument("--out-dir", type=Path, default=REPO / "docs" / "bench")
    parser.add_argument(
        "--readme", type=Path, default=REPO / "README.md", help="README whose bench block to rewrite"
    )
    parser.add_argument("--no-readme", action="store_true", help="leave the README alone")
    # A worker measures one thing in a fresh process and writes it to --result.
    parser.add_argument(
        "--worker", choices=("size", "concurrent", "parse", "read", "race", "change"), help=argparse.SUPPRESS
    )
    parser.add_argument("--bytes", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--speeches", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--path", choices=PATHS, help=argparse.SUPPRESS)
    parser.add_argument("--sagas", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--result", help=argparse.SUPPRESS)
    parser.add_argument("--dynamodb", choices=ENGINES, help=argparse.SUPPRESS)
    parser.add_argument(
        "--engine-sizes",
        type=int,
        nargs="*",
        default=list(ENGINE_SIZES),
        help="speeches per play on each engine",
    )
    parser.add_argument("--engine-runs", type=int, default=BenchConfig.engine_runs)
    parser.add_argument(
        "--race-runs", type=int, default=BenchConfig.race_runs, help="runs of the deadline race (0: none)"
    )
    parser.add_argument(
        "--change-sizes",
        type=int,
        nargs="*",
        default=list(DEFAULT_SIZES),
        help="speeches per play created, revised and deleted (none: no revise or delete)",
    )
    args = parser.parse_args(argv)
    if args.worker:
        _worker(args)
        return 0

    started = time.monotonic()
    config = BenchConfig(
        tuple(args.sizes),
        args.runs,
        args.concurrent_sagas,
        args.concurrent_speeches,
        args.parse_bytes,
        args.parse_runs,
        tuple(args.read_sizes),
        args.read_runs,
        tuple(args.engine_sizes),
        args.engine_runs,
        args.race_runs,
        tuple(args.change_sizes),
    )
    outcome = run_bench(config)
    paths = report.write_outputs(outcome.document, outcome.targets, args.out_dir)
    block = report.markdown(outcome.document, outcome.targets, plot=_relative(paths["plot"], args.readme))
    if not args.no_readme:
        report.update_readme(args.readme, block)
    print(block)
    print(f"wrote {', '.join(str(p) for p in paths.values())} in {time.monotonic() - started:.0f} s")
    missed = [t for t in outcome.targets if not t.met]
    for target in missed:
        print(f"target missed: {target.name} ({target.detail})", file=sys.stderr)
    return 1 if missed else 0


def _relative(path: Path, readme: Path) -> str:
    try:
        return str(path.resolve().relative_to(readme.resolve().parent))
    except ValueError:
        return str(path)


if __name__ == "__main__":
    sys.exit(main())
