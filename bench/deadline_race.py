"""A step the state machine gives up on must not write after its compensation: the figures.

A play too large for its step timeout (10,000 speeches, 2 s per step, in this process) is created
run after run. Each saga ends ROLLED_BACK; then, once every handler has returned (a state that
timed out leaves its handler running in its thread), the play's rows are counted. Before handlers
kept a deadline, thousands of dialogue rows were still there: the step went on writing after
DeleteDialogue had run. Now none may be.

    python -m bench.deadline_race [--runs 20] [--speeches 10000] [--step-timeout 2]
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import sys
import time
import warnings
from collections import Counter
from collections.abc import Sequence
from typing import Any

from bench.playgen import generate_play
from fountain_local.lambda_runtime import INVOCATIONS, show_handler_logs
from fountain_local.runtime import LocalAws
from fountain_local.saga_run import run_saga
from fountain_saga.entities.reader import count_rows

# Long enough for a handler that ignored its deadline to write a 10,000-row play to the end.
IDLE_WAIT_SECONDS = 120.0


def run(runs: int = 20, speeches: int = 10_000, step_timeout: int = 2) -> dict[str, Any]:
    """Create the play ``runs`` times in one local AWS; say how each ended and what it left."""
    _quiet()
    text = generate_play(speeches)
    statuses: Counter[str] = Counter()
    failures: Counter[str] = Counter()
    left_at_end: list[int] = []
    left_after_idle: list[int] = []
    left_otherwise: list[int] = []
    elapsed: list[float] = []
    idle_waits: list[float] = []
    with LocalAws(step_timeout_seconds=step_timeout) as aws:
        show_handler_logs(None, sys.stderr)
        for _ in range(runs):
            report = run_saga(aws, text)
            ended = time.monotonic()
            if not INVOCATIONS.wait_idle(IDLE_WAIT_SECONDS):
                raise RuntimeError(f"a handler still ran {IDLE_WAIT_SECONDS:.0f} s after its saga ended")
            idle_waits.append(time.monotonic() - ended)
            statuses[report.status] += 1
            if report.failure:
                failures[f"{report.failure['step']}.{report.failure['error']}"] += 1
            if report.compensation_failure:
                failures[f"{report.compensation_failure['step']}.{report.compensation_failure['error']}"] += 1
            left = sum(count_rows(report.play_id).values())
            if report.status == "ROLLED_BACK":
                left_at_end.append(sum(report.counts.values()))
                left_after_idle.append(left)
            else:
                # A saga whose compensation failed leaves rows on purpose, for an operator's resume.
                left_otherwise.append(left)
            elapsed.append(report.elapsed_seconds)
    return {
        "runs": runs,
        "speeches": speeches,
        "stepTimeoutSeconds": step_timeout,
        "statuses": dict(statuses),
        "failures": dict(failures),
        # Of the ROLLED_BACK runs: the rows a reader of the tables saw as the saga ended, and once
        # every handler had returned.
        "maxRowsLeftAtEnd": max(left_at_end, default=0),
        "maxRowsLeft": max(left_after_idle, default=0),
        "rolledBackRunsWithRowsLeft": sum(1 for rows in left_after_idle if rows),
        "maxRowsLeftByOtherRuns": max(left_otherwise, default=0),
        "medianElapsedSeconds": round(statistics.median(elapsed), 3) if elapsed else 0.0,
        "maxIdleWaitSeconds": round(max(idle_waits, default=0.0), 3),
    }


def _quiet() -> None:
    # The engine and the handlers log every failure as an error, and each run here fails on purpose.
    logging.getLogger("moto").setLevel(logging.CRITICAL)
    warnings.filterwarnings("ignore", message="No application metrics to publish")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.deadline_race", description=__doc__)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--speeches", type=int, default=10_000)
    parser.add_argument("--step-timeout", type=int, default=2)
    args = parser.parse_args(argv)
    figures = run(args.runs, args.speeches, args.step_timeout)
    print(json.dumps(figures, indent=2))
    return 0 if figures["maxRowsLeft"] == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
