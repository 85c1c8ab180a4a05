"""The benchmark's outputs: results.json, the plot, the markdown table and the README's block."""

from __future__ import annotations

import json
import os
import platform
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

from bench.changes import ChangeResult
from bench.costs import ASSUMPTIONS, PRICES_CHECKED, PRICES_USD, REGION, cost_per_play
from bench.measure import FAIL_AT, ConcurrentResult, SizeResult
from bench.parse_shapes import PREFIX, ParseResult
from bench.playgen import SEED
from bench.read_path import ReadPathResult
from bench.targets import Target

README_START = "<!-- bench:start -->"
README_END = "<!-- bench:end -->"
PLOT_NAME = "elapsed.png"

METHOD = {
    "runtime": "LocalAws in-process: moto 5.2.5's DynamoDB, S3 and Step Functions engine running the real "
    "ASL, each Task running the real handler in this process; retries wait for real (none happened)",
    "plays": f"Fountain text generated with seed {SEED}, parsed and staged by the normal intake",
    "elapsed": "from the intake's start (parse, ledger entry, S3 staging, StartExecution) until "
    "DescribeExecution shows the execution ended; median of the runs",
    "floor": "the same BatchWriteItem requests the saga's handlers sent (25 writes a request), "
    "replayed in order through the same client into the same tables under a fresh play id: for "
    "the success path, a write of every row; for the rollback path, the rows written before the "
    f"failure at {FAIL_AT} plus every delete the compensations sent; median of the runs",
    "ratio": "median elapsed / median floor",
    "changes": "each run creates a play (untimed), revises it to another generated play of the same "
    "size, then deletes it; each saga is timed as above, from its request's intake until the "
    "execution ended; its floor is its handlers' BatchWriteItem requests replayed as above, under a "
    "fresh play id holding the rows they delete (put there untimed first): for a revision, the new "
    "version's rows written and the old version's deleted; for a deletion, every row deleted; "
    "median of the runs",
    "rows": "rows written (put requests); the rollback path also deletes the rows it wrote",
    "writeRequests": "BatchWriteItem, UpdateItem and PutItem calls made by the handlers (the state "
    "machine's own ledger updates are counted apart, in costPerPlayUsd)",
    "stateTransitions": "states entered, from the execution history",
    "maxStatePayloadBytes": "largest state input, state output or task parameters in the history",
    "peakRssMb": "peak resident memory of the process that measured that size and path alone",
    "parseShapes": "intake.prepare_play (the intake's parse, its check that every row fits a DynamoDB "
    f"item, and the staged JSON) on each hostile text, which starts with {PREFIX.strip()!r} so it is "
    "a play; accepted or refused with PlayRejected's code, either is fine; median of the runs, all in "
    "one fresh process whose imports are warmed first",
    "readPath": "plays generated as above and stored by a saga to COMPLETED; GET /plays/{id}/fountain's "
    "work is entities.reader.load_play then render_fountain, whose text must equal the normalised "
    "text exactly; its floor is the same rows through the same client and endpoint, a GetItem of "
    "the script row and a paginated consistent Query per entity table, the items dropped; "
    "GET /plays/{id}'s work is ledger.get_entry then views.play_view, also on a play of one speech; "
    "the three are timed in turn within each run, in one process; median of the runs",
}


def machine() -> dict[str, Any]:
    return {
        "cpus": os.cpu_count(),
        "memoryGb": _memory_gb(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "moto": version("moto"),
        "boto3": version("boto3"),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "method": METHOD,
    }


def _memory_gb() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return None


def size_entry(result: SizeResult) -> dict[str, Any]:
    return {
        "speeches": result.speeches,
        "path": result.path,
        "rows": result.rows,
        "elapsedSeconds": round(result.elapsed_median, 3),
        "floorSeconds": round(result.floor_median, 3),
        "ratio": round(result.ratio, 2),
        "stateTransitions": result.state_transitions,
        "lambdaInvocations": result.lambda_invocations,
        "writeRequests": result.write_requests,
        "maxStatePayloadBytes": result.max_payload_bytes,
        "peakRssMb": round(result.peak_rss_mb, 1),
    }


def concurrent_entry(result: ConcurrentResult) -> dict[str, Any]:
    return {
        "sagas": result.sagas,
        "speeches": result.speeches,
        "wallSeconds": round(result.wall_seconds, 2),
        "sagasPerMinute": round(result.sagas_per_minute, 1),
        "allCompletedWithExactCounts": result.all_completed_exactly,
        "statuses": result.statuses,
        "exactCounts": result.exact,
        "retries": result.retries,
        "peakRssMb": round(result.peak_rss_mb, 1),
    }


def parse_entry(result: ParseResult) -> dict[str, Any]:
    return {
        "shape": result.shape,
        "textBytes": result.text_bytes,
        "outcome": result.outcome,
        "detail": result.detail,
        "medianSeconds": round(result.median, 3),
        "slowestSeconds": round(result.slowest, 3),
        "seconds": [round(s, 3) for s in result.seconds],
    }


def read_path_entry(read: ReadPathResult) -> dict[str, Any]:
    return {
        "runs": read.runs,
        "sizes": [
            {
                "speeches": r.speeches,
                "rows": r.rows,
                "textBytes": r.text_bytes,
                "loadRenderSeconds": round(r.load_render_median, 4),
                "floorSeconds": round(r.floor_median, 4),
                "ratio": round(r.ratio, 2),
                "playViewSeconds": round(r.play_view_median, 5),
            }
            for r in read.sizes
        ],
        "baseline": {
            "speeches": read.baseline_speeches,
            "playViewSeconds": round(read.baseline_play_view_median, 5),
        },
    }


def engine_entry(result: Any) -> dict[str, Any]:
    """A bench.run.EngineResult: one size on one DynamoDB engine."""
    return {
        "engine": result.engine,
        "speeches": result.write.speeches,
        "rows": result.read.rows,
        "writeElapsedSeconds": result.write.elapsed_median,
        "writeFloorSeconds": result.write.floor_median,
        "writeRatio": result.write.ratio,
        "readSeconds": result.read.load_render_median,
        "readFloorSeconds": result.read.floor_median,
        "readRatio": result.read.ratio,
    }


def change_entry(result: ChangeResult) -> dict[str, Any]:
    return {
        "speeches": result.speeches,
        "operation": result.operation,
        "rowsWritten": result.rows_written,
        "rowsDeleted": result.rows_deleted,
        "elapsedSeconds": round(result.elapsed_median, 3),
        "floorSeconds": round(result.floor_median, 3),
        "ratio": round(result.ratio, 2),
        "stateTransitions": result.state_transitions,
        "lambdaInvocations": result.lambda_invocations,
        "writeRequests": result.write_requests,
        "maxStatePayloadBytes": result.max_payload_bytes,
        "peakRssMb": round(result.peak_rss_mb, 1),
    }


def results_document(
    sizes: list[SizeResult],
    concurrent: ConcurrentResult | None,
    parse: list[ParseResult] | None = None,
    read: ReadPathResult | None = None,
    engines: Sequence[Any] = (),
    *,
    changes: Sequence[ChangeResult] = (),
) -> dict[str, Any]:
    return {
        "machine": machine(),
        "engines": [engine_entry(e) for e in engines],
        "sizes": [size_entry(r) for r in sizes],
        "changes": [change_entry(r) for r in changes],
        "concurrent": concurrent_entry(concurrent) if concurrent else {},
        "parseShapes": [parse_entry(r) for r in parse or []],
        "readPath": read_path_entry(read) if read else {},
        "costPerPlayUsd": {
            "region": REGION,
            "pricesChecked": PRICES_CHECKED,
            "prices": PRICES_USD,
            "assumptions": list(ASSUMPTIONS),
            "plays": [cost_per_play(r) for r in sizes],
        },
    }


# -- markdown -------------------------------------------------------------------------------------
def markdown(document: dict[str, Any], targets: list[Target], plot: str | None = PLOT_NAME) -> str:
    costs = {(c["speeches"], c["path"]): c for c in document["costPerPlayUsd"]["plays"]}
    runs = document["machine"].get("runs", "")
    lines = [
        f"| Speeches | Path | Rows written | Elapsed s{f' (median of {runs})' if runs else ''} | Floor s "
        "| Elapsed / floor | States entered | Lambda invocations | Write requests | Ledger updates "
        "| Max state payload | Peak RSS | Cost per play (USD) |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for entry in document["sizes"]:
        cost = costs[(entry["speeches"], entry["path"])]
        rows = f"{entry['rows']:,}"
        if cost["rowsDeleted"]:
            rows += f" (+{cost['rowsDeleted']:,} deleted)"
        lines.append(
            f"| {entry['speeches']:,} | {entry['path']} | {rows} | {entry['elapsedSeconds']:.2f} "
            f"| {entry['floorSeconds']:.2f} | {entry['ratio']:.2f} | {entry['stateTransitions']} "
            f"| {entry['lambdaInvocations']} | {entry['writeRequests']} | {cost['ledgerUpdates']} "
            f"| {entry['maxStatePayloadBytes']:,} B | {entry['peakRssMb']:.0f} MB "
            f"| {cost['usd']['total']:.5f} |"
        )
    out = ["\n".join(lines), ""]
    out += _change_table(document.get("changes", []), runs)
    concurrent = document["concurrent"]
    if concurrent:
        verdict = (
            "all COMPLETED with exact row counts"
            if concurrent["allCompletedWithExactCounts"]
            else (f"NOT all exact: {concurrent['statuses']}, {concurrent['exactCounts']} exact")
        )
        out += [
            f"**Concurrency:** {concurrent['sagas']} sagas of {concurrent['speeches']:,} speeches started "
            f"together finished in {concurrent['wallSeconds']:.1f} s — "
            f"**{concurrent['sagasPerMinute']:.0f} sagas per minute**, {verdict} "
            f"(peak RSS {concurrent['peakRssMb']:.0f} MB).",
            "",
        ]
    out += _parse_table(document["parseShapes"])
    out += _read_table(document["readPath"])
    out += _engine_table(document.get("engines", []))
    out += ["**Targets:**", ""]
    out += [f"- {'met' if t.met else '**MISSED**'}: {t.name} — {t.detail}" for t in targets]
    out += ["", _cost_breakdown(document), ""]
    if plot:
        out += [f"![Elapsed and floor against play size]({plot})", ""]
    method = document["machine"]["method"]
    out += [
        "How it is measured:",
        "",
        f"- *Elapsed*: {method['elapsed']}.",
        f"- *Floor*: {method['floor']}.",
        f"- *Revise and delete*: {method['changes']}.",
        f"- *Write requests*: {method['writeRequests']}.",
        f"- *Parse worst cases*: {method['parseShapes']}.",
        f"- *Read path*: {method['readPath']}.",
        f"- Runtime: {method['runtime']}; {document['machine']['cpus']} CPUs, "
        f"{document['machine']['memoryGb']} GB, Python {document['machine']['python']}, "
        f"measured {document['machine']['date']}.",
    ]
    return "\n".join(out) + "\n"


def _change_table(changes: list[dict[str, Any]], runs: Any) -> list[str]:
    if not changes:
        return []
    lines = [
        "**Revise and delete:** a play created, revised to another play of the same size, then "
        "deleted; each saga against its floor, its own rows written and deleted directly:",
        "",
        "| Speeches | Saga | Rows written | Rows deleted "
        f"| Elapsed s{f' (median of {runs})' if runs else ''} | Floor s | Elapsed / floor "
        "| States entered | Lambda invocations | Write requests | Max state payload | Peak RSS |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for entry in changes:
        lines.append(
            f"| {entry['speeches']:,} | {entry['operation']} | {entry['rowsWritten']:,} "
            f"| {entry['rowsDeleted']:,} | {entry['elapsedSeconds']:.2f} | {entry['floorSeconds']:.2f} "
            f"| {entry['ratio']:.2f} | {entry['stateTransitions']} | {entry['lambdaInvocations']} "
            f"| {entry['writeRequests']} | {entry['maxStatePayloadBytes']:,} B "
            f"| {entry['peakRssMb']:.0f} MB |"
        )
    return [*lines, ""]


def _parse_table(shapes: list[dict[str, Any]]) -> list[str]:
    if not shapes:
        return []
    runs = len(shapes[0]["seconds"])
    lines = [
        f"**Parse worst cases:** `intake.prepare_play` on hostile texts, each after `{PREFIX.strip()}` "
        f"(median of {runs} runs in one fresh process; refused or accepted, either is fine):",
        "",
        "| Text | Bytes | Outcome | Median s | Slowest s |",
        "|---|---:|---|---:|---:|",
    ]
    for entry in shapes:
        outcome = entry["outcome"] if entry["outcome"] == "accepted" else f"refused: {entry['outcome']}"
        lines.append(
            f"| {_escaped(entry['shape'])} | {entry['textBytes']:,} | {outcome} "
            f"| {entry['medianSeconds']:.3f} | {entry['slowestSeconds']:.3f} |"
        )
    return [*lines, ""]


def _escaped(text: str) -> str:
    """Shown as typed: the shapes are made of the very characters markdown reads as markup."""
    return re.sub(r"([\\*_\[\]|<>`])", r"\\\1", text)


def _read_table(read: dict[str, Any]) -> list[str]:
    if not read:
        return []
    baseline = read["baseline"]
    lines = [
        f"**Read path** (median of {read['runs']} runs): `GET /plays/{{id}}/fountain` "
        "(`load_play` + `render_fountain`) against its floor, and `GET /plays/{id}` (`play_view`):",
        "",
        "| Speeches | Rows | Text bytes | load + render s | Floor s | load + render / floor | play_view ms |",
        "|---:|---:|---:|---:|---:|---:|---:|",
        f"| {baseline['speeches']:,} | | | | | | {baseline['playViewSeconds'] * 1000:.1f} |",
    ]
    for entry in read["sizes"]:
        lines.append(
            f"| {entry['speeches']:,} | {entry['rows']:,} | {entry['textBytes']:,} "
            f"| {entry['loadRenderSeconds']:.3f} | {entry['floorSeconds']:.3f} | {entry['ratio']:.2f} "
            f"| {entry['playViewSeconds'] * 1000:.1f} |"
        )
    return [*lines, ""]


def _engine_table(engines: list[dict[str, Any]]) -> list[str]:
    if not engines:
        return []
    lines = [
        "**On a real DynamoDB engine** (what `fountain-saga serve` runs; everything else as above, "
        "each ratio against its floor on the same engine):",
        "",
        "| Engine | Speeches | Rows | Saga s | Write floor s | Saga / floor | load + render s "
        "| Read floor s | Read / floor |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for entry in engines:
        cells = [
            entry["engine"],
            f"{entry['speeches']:,}",
            f"{entry['rows']:,}",
            f"{entry['writeElapsedSeconds']:.2f}",
            f"{entry['writeFloorSeconds']:.2f}",
            f"{entry['writeRatio']:.2f}",
            f"{entry['readSeconds']:.3f}",
            f"{entry['readFloorSeconds']:.3f}",
            f"{entry['readRatio']:.2f}",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return [*lines, ""]


def _cost_breakdown(document: dict[str, Any]) -> str:
    block = document["costPerPlayUsd"]
    prices = block["prices"]
    lines = [
        f"**Estimated AWS cost per play** ({block['region']}, list prices checked {block['pricesChecked']}; "
        "Step Functions Standard "
        f"${prices['stepFunctionsStandardPerStateTransition'] * 1000:.3f} per 1,000 state transitions, "
        f"Lambda ${prices['lambdaPerGbSecond']:.10f} per GB-second and "
        f"${prices['lambdaPerRequest'] * 1_000_000:.2f} per million requests, DynamoDB on-demand "
        f"${prices['dynamodbOnDemandPerWriteRequestUnit'] * 1_000_000:.3f} per million write request "
        f"units, S3 ${prices['s3PutRequest'] * 1000:.3f} per 1,000 PUTs and "
        f"${prices['s3GetRequest'] * 1000:.4f} per 1,000 GETs, EventBridge "
        f"${prices['eventBridgeCustomEvent'] * 1_000_000:.2f} per million events):",
        "",
        "| Speeches | Path | Transitions | Lambda requests / GB-s | Write request units "
        "| Step Functions | Lambda | DynamoDB | S3 + events | Total |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for cost in block["plays"]:
        usd = cost["usd"]
        lines.append(
            f"| {cost['speeches']:,} | {cost['path']} | {cost['stateTransitions']} "
            f"| {cost['lambdaRequests']} / {cost['lambdaGbSeconds']:.2f} | {cost['writeRequestUnits']:,} "
            f"| {usd['stepFunctions']:.6f} | {usd['lambda']:.6f} | {usd['dynamodb']:.6f} "
            f"| {usd['s3AndEvents']:.6f} | {usd['total']:.5f} |"
        )
    lines += ["", *(f"- {a}" for a in block["assumptions"])]
    return "\n".join(lines)


# -- files ----------------------------------------------------------------------------------------
def write_outputs(document: dict[str, Any], targets: list[Target], out_dir: Path) -> dict[str, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {
        "json": out_dir / "results.json",
        "plot": out_dir / PLOT_NAME,
        "markdown": out_dir / "results.md",
    }
    paths["json"].write_text(json.dumps(document, indent=2) + "\n")
    plot(document, paths["plot"])
    paths["markdown"].write_text("# Benchmark results\n\n" + markdown(document, targets))
    return paths


def plot(document: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(7, 4.5), dpi=110)
    series = [
        (f"create, {run_path}", colour, [e for e in document["sizes"] if e["path"] == run_path])
        for run_path, colour in (("success", "tab:blue"), ("rollback", "tab:red"))
    ] + [
        (operation, colour, [e for e in document.get("changes", []) if e["operation"] == operation])
        for operation, colour in (("revise", "tab:green"), ("delete", "tab:purple"))
    ]
    for label, colour, unsorted in series:
        entries = sorted(unsorted, key=lambda e: e["speeches"])
        if not entries:
            continue
        speeches = [e["speeches"] for e in entries]
        axes.plot(
            speeches, [e["elapsedSeconds"] for e in entries], "o-", color=colour, label=f"saga, {label}"
        )
        axes.plot(speeches, [e["floorSeconds"] for e in entries], "s--", color=colour, alpha=0.6,
                  label=f"floor, {label}")  # fmt: skip
    axes.set_xscale("log")
    axes.set_yscale("log")
    axes.set_xlabel("speeches in the play")
    axes.set_ylabel("seconds (median)")
    axes.set_title("Sagas against direct BatchWriteItem (local, moto)")
    axes.grid(True, which="both", alpha=0.3)
    axes.legend(fontsize="small", loc="upper left", ncols=2)
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)


def update_readme(readme: Path, block: str) -> None:
    """Rewrite the text between the bench markers (add a Benchmark section if there is none)."""
    text = readme.read_text()
    body = f"{README_START}\n{block.rstrip()}\n{README_END}"
    if README_START in text and README_END in text:
        pattern = re.compile(re.escape(README_START) + r".*?" + re.escape(README_END), re.DOTALL)
        text = pattern.sub(lambda _: body, text, count=1)
    else:
        text = text.rstrip() + "\n\n## Benchmark\n\n" + body + "\n"
    readme.write_text(text)
