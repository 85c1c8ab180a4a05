"""``fountain-saga``: run the create-play saga on the local runtime.

Exit codes: 0 COMPLETED, 1 ROLLED_BACK, 2 COMPENSATION_FAILED; 64 bad usage (such as an unknown
step), 65 the file holds no play or is not UTF-8, 66 the file cannot be read, 69 a port is in use.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn, TextIO

EXIT_BY_STATUS = {"COMPLETED": 0, "ROLLED_BACK": 1, "COMPENSATION_FAILED": 2}
EXIT_USAGE = 64
EXIT_DATA = 65
EXIT_NO_INPUT = 66
EXIT_UNAVAILABLE = 69


class _Parser(argparse.ArgumentParser):
    # argparse exits 2 on bad usage, which would read as COMPENSATION_FAILED.
    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


class CliError(Exception):
    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


def build_parser() -> argparse.ArgumentParser:
    from fountain_saga.topology import FORWARD_STEPS

    parser = _Parser(prog="fountain-saga", description="Fountain plays stored by an orchestrated saga.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    create = commands.add_parser("create", help="run one create-play saga on the local runtime")
    create.add_argument("file", type=Path, help="a Fountain file")
    create.add_argument("--title", help="override the title page's title")
    create.add_argument(
        "--fail-at",
        metavar="STEP",
        help=f"make STEP fail after writing part of its rows; one of {', '.join(FORWARD_STEPS)}",
    )
    create.add_argument(
        "--fail-mode",
        choices=("before", "partial", "timeout"),
        default="partial",
        help="how --fail-at fails: before writing, after part of its rows (default), or by hanging "
        "past the step timeout after part of its rows",
    )
    create.add_argument(
        "--fail-compensation",
        metavar="STEP[:N]",
        help="also make compensation STEP fail, its first N attempts (retried with backoff) or every one",
    )
    create.add_argument(
        "--step-timeout", type=int, metavar="SECONDS", help="how long the state machine waits for one step"
    )
    create.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    for name, text in (
        ("resume", "finish the compensation of a saga that ended COMPENSATION_FAILED or got stuck"),
        ("stuck", "list sagas RUNNING or COMPENSATING for too long"),
    ):
        command = commands.add_parser(name, help=text, description=text)
        if name == "resume":
            command.add_argument("play_id", metavar="PLAY_ID")
        else:
            command.add_argument("--older-than", type=float, default=15, metavar="MINUTES", help="default 15")
            command.add_argument("--json", action="store_true", help="one JSON object per line")
        command.add_argument(
            "--endpoint-url",
            help="the AWS endpoint, e.g. http://127.0.0.1:4566 for `fountain-saga serve`; omit for AWS "
            "itself (then set LEDGER_TABLE_NAME and STATE_MACHINE_ARN from the stack's outputs)",
        )
        command.add_argument("--state-machine-arn", help="default: $STATE_MACHINE_ARN, or the local one")
    serve = commands.add_parser("serve", help="serve the HTTP API and a local AWS endpoint")
    serve.add_argument("--host", default="127.0.0.1", help="address of the API (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=3000, help="port of the API (default 3000)")
    serve.add_argument(
        "--aws-port", type=int, default=4566, help="port of the local AWS on 127.0.0.1 (default 4566)"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "create":
            return _create(args, sys.stdout)
        if args.command == "serve":
            return _serve(args)
        if args.command == "resume":
            return _resume(args, sys.stdout)
        if args.command == "stuck":
            return _stuck(args, sys.stdout)
    except CliError as error:
        print(f"fountain-saga: {error}", file=sys.stderr)
        return error.code
    except KeyboardInterrupt:
        return 130
    return EXIT_USAGE


def _serve(args: argparse.Namespace) -> int:
    logging.getLogger("moto").setLevel(logging.CRITICAL)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    from fountain_local.server import PortInUse, serve

    try:
        return serve(args.host, args.port, args.aws_port)
    except PortInUse as error:
        raise CliError(
            f"{error}; stop what uses it or choose another with --port/--aws-port", EXIT_UNAVAILABLE
        ) from None


def _compensation_fault(spec: str | None) -> Any:
    from fountain_saga.saga.faults import CompensationFault

    if spec is None:
        return None
    step, _, times = spec.partition(":")
    if times and not times.isdigit():
        raise ValueError(f"--fail-compensation {spec!r}: N must be a whole number of attempts")
    return CompensationFault(step, int(times) if times else None)


def _use_endpoint(args: argparse.Namespace) -> str:
    """Point this process at the chosen AWS endpoint; return the state machine's ARN."""
    import os

    if args.endpoint_url:
        os.environ["AWS_ENDPOINT_URL"] = args.endpoint_url
        for key, value in (("AWS_ACCESS_KEY_ID", "local"), ("AWS_SECRET_ACCESS_KEY", "local")):
            os.environ.setdefault(key, value)
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    from fountain_local.runtime import local_state_machine_arn
    from fountain_saga.topology import STATE_MACHINE_ARN_ENV

    arn = args.state_machine_arn or os.environ.get(STATE_MACHINE_ARN_ENV)
    if not arn and not args.endpoint_url:
        raise CliError("against AWS, pass --state-machine-arn or set STATE_MACHINE_ARN", EXIT_USAGE)
    return str(arn or local_state_machine_arn())


def _resume(args: argparse.Namespace, out: TextIO) -> int:
    state_machine_arn = _use_endpoint(args)
    from fountain_saga.saga.recovery import CannotResume, resume

    try:
        arn = resume(args.play_id, state_machine_arn=state_machine_arn)
    except CannotResume as error:
        raise CliError(str(error), EXIT_DATA) from None
    print(f"resumed play {args.play_id}: {arn}", file=out)
    print(f"follow it with GET /plays/{args.play_id} (status COMPENSATING, then ROLLED_BACK)", file=out)
    return 0


def _stuck(args: argparse.Namespace, out: TextIO) -> int:
    from datetime import timedelta

    _use_endpoint(args)
    from fountain_saga.saga.recovery import stuck_sagas

    stuck = stuck_sagas(timedelta(minutes=args.older_than))
    for saga in stuck:
        if args.json:
            print(json.dumps(saga.to_json()), file=out)
        else:
            print(
                f"{saga.play_id}  {saga.status:<13} since {saga.created_at}  "
                f"execution {saga.execution_status}  {saga.title!r}",
                file=out,
            )
    if not args.json:
        print(
            f"{len(stuck)} saga(s) RUNNING or COMPENSATING for more than {args.older_than:g} minutes",
            file=out,
        )
    return 0


def _read_play(path: Path) -> str:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise CliError(f"{path}: no such file", EXIT_NO_INPUT) from None
    except OSError as error:
        raise CliError(f"{path}: cannot read it ({error.strerror})", EXIT_NO_INPUT) from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise CliError(
            f"{path}: not UTF-8 text (byte {error.start} is 0x{data[error.start]:02x}); save it as UTF-8",
            EXIT_DATA,
        ) from None


def _create(args: argparse.Namespace, out: TextIO) -> int:
    from fountain_saga.play.fountain_import import PlayRejected
    from fountain_saga.saga.faults import FaultPlan
    from fountain_saga.saga.intake import prepare_play

    fault = None
    if args.fail_compensation is not None and args.fail_at is None:
        raise CliError(
            "--fail-compensation needs --fail-at: compensations run only after a failure", EXIT_USAGE
        )
    if args.fail_at is not None:
        try:
            fault = FaultPlan(
                step=args.fail_at,
                mode=args.fail_mode,
                compensation=_compensation_fault(args.fail_compensation),
            )
        except ValueError as error:
            raise CliError(str(error), EXIT_USAGE) from None
    text = _read_play(args.file)
    try:
        prepared = prepare_play(text, args.title)  # reject before starting anything; parsed once
    except PlayRejected as error:
        raise CliError(f"{args.file}: {error}", EXIT_DATA) from None

    logging.getLogger("moto").setLevel(logging.CRITICAL)
    from fountain_local.runtime import LocalAws
    from fountain_local.saga_run import run_saga

    with LocalAws(step_timeout_seconds=args.step_timeout) as aws:
        report = run_saga(
            aws,
            text,
            title=args.title,
            fault=fault,
            on_step=None if args.json else _printer(out),
            prepared=prepared,
        )
    if args.json:
        print(json.dumps(report.summary()), file=out)
    else:
        _print_summary(report.summary(), out)
    return EXIT_BY_STATUS.get(report.status, 3)


def _printer(out: TextIO) -> Any:
    def show(outcome: Any) -> None:
        arrow = "↩" if outcome.compensation else "→"
        if outcome.ok:
            rows = f"{outcome.rows} row{'s' if outcome.rows != 1 else ''}" if outcome.rows is not None else ""
            print(f"  {arrow} {outcome.name:<18} ok      {rows:>12}  {outcome.seconds:6.2f} s", file=out)
        else:
            print(f"  {arrow} {outcome.name:<18} FAILED  {outcome.error}", file=out)
        out.flush()

    return show


def _print_summary(summary: dict[str, Any], out: TextIO) -> None:
    counts = summary["counts"]
    print(file=out)
    print(f"play        {summary['playId']}  {summary['title']!r}", file=out)
    print(f"status      {summary['status']}", file=out)
    if summary["failedStep"]:
        print(f"failed at   {summary['failedStep']}  ({summary['error']})", file=out)
    if summary["compensationFailedStep"]:
        print(
            f"stuck at    {summary['compensationFailedStep']}: its rows remain until an operator resumes "
            "the compensation (README: Operating it)",
            file=out,
        )
    print("rows        " + ", ".join(f"{k} {v}" for k, v in counts.items()), file=out)
    print(f"elapsed     {summary['elapsedSeconds']:.2f} s", file=out)
    print(f"transitions {summary['stateTransitions']} states entered", file=out)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
