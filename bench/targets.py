"""The issue's targets, checked against measured figures (the smoke test checks the same ones)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from bench.measure import PATHS, ConcurrentResult, SizeResult

BATCH_LIMIT = 25
MAX_PAYLOAD_BYTES = 8 * 1024
MAX_RATIO = 2.0


@dataclass(frozen=True)
class Target:
    name: str
    met: bool
    detail: str


def write_request_bound(result: SizeResult) -> int:
    """ceil(rows / 25) plus one per step: each step's last batch may be short.

    Rows are every row the path touches: written, and for the rollback path deleted too. Each
    Lambda step is one step (PublishPlay's single UpdateItem falls within its one).
    """
    return math.ceil((result.rows + result.rows_deleted) / BATCH_LIMIT) + result.lambda_invocations


def check(sizes: list[SizeResult], concurrent: ConcurrentResult | None) -> list[Target]:
    largest = max(r.speeches for r in sizes)
    at_largest = [r for r in sizes if r.speeches == largest]
    targets = [_flat_orchestration(sizes), _write_requests(sizes)]
    worst_payload = max(at_largest, key=lambda r: r.max_payload_bytes)
    targets.append(
        Target(
            f"Largest state payload < {MAX_PAYLOAD_BYTES:,} B at {largest:,} speeches",
            worst_payload.max_payload_bytes < MAX_PAYLOAD_BYTES,
            f"{worst_payload.max_payload_bytes:,} B ({worst_payload.path} path)",
        )
    )
    targets.append(
        Target(
            f"Elapsed / floor <= {MAX_RATIO} at {largest:,} speeches, both paths",
            all(r.ratio <= MAX_RATIO for r in at_largest) and {r.path for r in at_largest} == set(PATHS),
            ", ".join(f"{r.path} {r.ratio:.2f}" for r in at_largest),
        )
    )
    if concurrent is not None:
        targets.append(
            Target(
                f"All {concurrent.sagas} concurrent sagas of {concurrent.speeches:,} speeches complete "
                "with exact counts",
                concurrent.all_completed_exactly,
                f"{concurrent.statuses}, {concurrent.exact} of {concurrent.sagas} with exact row counts",
            )
        )
    return targets


def _flat_orchestration(sizes: list[SizeResult]) -> Target:
    details = []
    flat = True
    for path in PATHS:
        results = [r for r in sizes if r.path == path]
        transitions = sorted({r.state_transitions for r in results})
        invocations = sorted({r.lambda_invocations for r in results})
        flat = flat and len(transitions) == 1 and len(invocations) == 1
        details.append(
            f"{path}: {'/'.join(map(str, transitions))} transitions, "
            f"{'/'.join(map(str, invocations))} invocations"
        )
    return Target(
        "State transitions and Lambda invocations per saga the same at every size", flat, "; ".join(details)
    )


def _write_requests(sizes: list[SizeResult]) -> Target:
    over = [r for r in sizes if r.write_requests > write_request_bound(r)]
    tightest = max(sizes, key=lambda r: r.write_requests - write_request_bound(r))
    return Target(
        "Write requests <= ceil(rows / 25) + 1 per step",
        not over,
        f"closest: {tightest.speeches:,} speeches {tightest.path}, {tightest.write_requests} requests "
        f"for a bound of {write_request_bound(tightest)}",
    )
