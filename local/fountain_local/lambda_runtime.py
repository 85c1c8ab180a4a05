"""Lambda invocations executed in-process: moto's Lambda, made to run our real handlers.

moto without Docker (``LambdaSimpleBackend``) only echoes the payload. We replace its ``invoke``
with one that imports the function's configured Handler and calls it with the event and a
context object, and that reports an exception in the Python runtime's own error envelope, so a
Catch on the exception's class name behaves as it does on AWS. This reaches into moto's
internals, which is why moto is pinned exactly in pyproject.toml.

What Lambda itself answers, rather than the handler, never happens here on its own: no account
concurrency runs out and no function is stopped at its timeout. ``SERVICE_FAULTS`` lets a test
make Lambda answer the next invocations of a function the way AWS does then.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import logging
import os
import threading
import time
import traceback
import uuid
import warnings
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, TextIO

from moto.awslambda_simple.models import LambdaSimpleBackend
from moto.core.exceptions import JsonRESTError

Handler = Callable[[Any, Any], Any]


@dataclass
class LocalLambdaContext:
    """The attributes of the Lambda context object that our handlers and Powertools read."""

    function_name: str
    invoked_function_arn: str
    memory_limit_in_mb: int
    timeout_seconds: float
    function_version: str = "$LATEST"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    log_group_name: str = ""
    log_stream_name: str = "local"
    _started: float = field(default_factory=time.monotonic)

    def __post_init__(self) -> None:
        self.log_group_name = f"/aws/lambda/{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        remaining = self.timeout_seconds - (time.monotonic() - self._started)
        return max(0, int(remaining * 1000))


class InvocationLog:
    """Counts invocations per function, their run time, and those still running (the benchmark
    and tests read it)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self.counts: Counter[str] = Counter()
        # Handler time per function, for the benchmark's estimate of billed GB-seconds.
        self.seconds: defaultdict[str, float] = defaultdict(float)
        self._running = 0

    def started(self, function_name: str) -> None:
        with self._lock:
            self.counts[function_name] += 1
            self._running += 1

    def finished(self, function_name: str, seconds: float) -> None:
        """An invocation ``started`` has returned or raised, after ``seconds``."""
        with self._lock:
            self.seconds[function_name] += seconds
            self._running -= 1
            if self._running == 0:
                self._idle.notify_all()

    def running(self) -> int:
        """Handler invocations under way now, including those their state already gave up on."""
        with self._lock:
            return self._running

    def wait_idle(self, timeout: float) -> bool:
        """Wait until no handler runs; False if one still does after ``timeout`` seconds.

        A state that timed out leaves its handler running in its own thread (on AWS, Lambda
        would stop it): what the tables hold is only final once every handler has returned.
        """
        with self._lock:
            return self._idle.wait_for(lambda: self._running == 0, timeout)

    def total(self) -> int:
        with self._lock:
            return sum(self.counts.values())


INVOCATIONS = InvocationLog()
_handlers: dict[str, Handler] = {}

# How Lambda, not the handler, may answer an Invoke:
# - "throttled": refused with 429 TooManyRequestsException (the account's or the function's
#   concurrency is used up); Step Functions reports Lambda.TooManyRequestsException.
# - "service_error": refused with 500 ServiceException; Step Functions reports Lambda.ServiceException.
# - "timed_out": the function ran out of time; the runtime's timeout envelope has no errorType, which
#   Step Functions reports as Lambda.Unknown.
# - "timed_out_in_sandbox": the same, as newer runtimes report it (errorType Sandbox.Timedout).
LambdaFault = Literal["throttled", "service_error", "timed_out", "timed_out_in_sandbox"]
LAMBDA_FAULTS: tuple[LambdaFault, ...] = ("throttled", "service_error", "timed_out", "timed_out_in_sandbox")


class _Refused(JsonRESTError):
    """An Invoke Lambda refused before running the function; moto answers it with ``code``."""

    def __init__(self, status: int, error: str, message: str) -> None:
        super().__init__(error, message)
        self.code = status


class ServiceFaults:
    """Answers Lambda gives instead of the handler's, queued per function, for tests.

    A refused invocation never runs the handler (and is not counted in INVOCATIONS, as Lambda does
    not count a throttle as an invocation). A timed-out one runs it, so its writes land as those of
    a function stopped at its timeout may have, and then answers with Lambda's timeout envelope.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        # None: that invocation runs as usual.
        self._queued: defaultdict[str, list[LambdaFault | None]] = defaultdict(list)
        self.delivered: Counter[tuple[str, LambdaFault]] = Counter()

    def inject(self, function_name: str, fault: LambdaFault, *, times: int = 1, after: int = 0) -> None:
        """Answer ``times`` invocations of ``function_name`` with ``fault``, once ``after`` more have run."""
        if fault not in LAMBDA_FAULTS:
            raise ValueError(f"unknown Lambda fault {fault!r}; the faults are {', '.join(LAMBDA_FAULTS)}")
        with self._lock:
            self._queued[function_name].extend([None] * after + [fault] * times)

    def take(self, function_name: str) -> LambdaFault | None:
        with self._lock:
            queued = self._queued.get(function_name)
            if not queued:
                return None
            fault = queued.pop(0)
            if fault is not None:
                self.delivered[function_name, fault] += 1
            return fault

    def pending(self) -> int:
        """Invocations still to be answered with a fault, or let through before one."""
        with self._lock:
            return sum(len(queued) for queued in self._queued.values())

    def clear(self) -> None:
        with self._lock:
            self._queued.clear()
            self.delivered.clear()


SERVICE_FAULTS = ServiceFaults()


def _refusal(fault: LambdaFault) -> _Refused:
    if fault == "throttled":
        return _Refused(429, "TooManyRequestsException", "Rate Exceeded.")
    return _Refused(500, "ServiceException", "Lambda was unable to process the request.")


def _timeout_envelope(fault: LambdaFault, request_id: str, timeout_seconds: float) -> dict[str, str]:
    """What Lambda returns for a function it stopped at its timeout."""
    timed_out = f"Task timed out after {timeout_seconds:.2f} seconds"
    if fault == "timed_out_in_sandbox":
        message = f"RequestId: {request_id} Error: {timed_out}"
        return {"errorType": "Sandbox.Timedout", "errorMessage": message}
    now = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return {"errorMessage": f"{now} {request_id} {timed_out}"}


def resolve_handler(path: str) -> Handler:
    """Import "package.module.function" once and cache it."""
    handler = _handlers.get(path)
    if handler is None:
        module_name, _, attribute = path.rpartition(".")
        handler = getattr(importlib.import_module(module_name), attribute)
        _handlers[path] = handler
    return handler


def _invoke(  # noqa: PLR0917 (moto's signature)
    self: LambdaSimpleBackend,
    function_name: str,
    qualifier: str | None,
    body: Any,
    headers: Any,
    response_headers: Any,
) -> bytes:
    fn = self.get_function(function_name, qualifier)
    fault = SERVICE_FAULTS.take(fn.function_name)
    if fault in ("throttled", "service_error"):
        raise _refusal(fault)
    INVOCATIONS.started(fn.function_name)
    started = time.monotonic()
    request_id = str(uuid.uuid4())
    try:
        event = json.loads(body) if body else {}
        context = LocalLambdaContext(
            function_name=fn.function_name,
            invoked_function_arn=fn.function_arn,
            memory_limit_in_mb=int(fn.memory_size),
            timeout_seconds=context_timeout_seconds(float(fn.timeout), event),
            aws_request_id=request_id,
        )
        handler = resolve_handler(str(fn.handler))
        if fault is not None:
            # Whatever the handler would have answered, Lambda answers with its timeout.
            with contextlib.suppress(Exception):
                handler(event, context)
            response_headers["x-amz-function-error"] = "Unhandled"
            return json.dumps(_timeout_envelope(fault, request_id, float(fn.timeout))).encode()
        result = handler(event, context)
        return json.dumps(result).encode()
    except Exception as error:
        response_headers["x-amz-function-error"] = "Unhandled"
        envelope = {
            "errorMessage": str(error),
            "errorType": type(error).__name__,
            "requestId": request_id,
            "stackTrace": traceback.format_tb(error.__traceback__),
        }
        return json.dumps(envelope).encode()
    finally:
        INVOCATIONS.finished(fn.function_name, time.monotonic() - started)
        discard_metrics()


def context_timeout_seconds(function_timeout: float, event: Any) -> float:
    """The context's timeout: the function's, or its share of the state's when the payload carries
    it (the state's TimeoutSecondsPath) and that is shorter.

    On AWS, Lambda ends an invocation at the function's timeout, and the state's is longer
    (topology.step_timeout_seconds): the function gets 120 s of the state's 150. Here nothing ends
    a handler's thread, and tests shorten the state's timeout to a second or two; with the same
    share of it as its deadline, a handler stops before its state gives up on it, as it would stop
    on AWS when Lambda does, and with the same room for the moment between the state's clock
    starting and the handler's (tens of milliseconds here, more on a loaded machine).
    """
    step_timeout = event.get("stepTimeoutSeconds") if isinstance(event, dict) else None
    if isinstance(step_timeout, int | float) and not isinstance(step_timeout, bool) and step_timeout > 0:
        return min(function_timeout, float(step_timeout) * deployed_share())
    return function_timeout


def deployed_share() -> float:
    from fountain_saga import topology

    return topology.saga_function_timeout_seconds() / topology.step_timeout_seconds()


def discard_metrics() -> None:
    """Drop what the handler's Metrics gathered: with metrics disabled (as locally), Powertools
    neither publishes nor clears them, and after 100 values it prints them to stdout."""
    from aws_lambda_powertools import Metrics

    Metrics().clear_metrics()


def show_handler_logs(level: str | None, stream: TextIO) -> None:
    """Write the handlers' Powertools JSON logs to ``stream``, from ``level`` up (None: none at all).

    On Lambda each function logs to CloudWatch; here every handler shares this process, whose
    stdout carries the CLI's own output. Powertools gives each service one logger (and its
    children), configured when its first ``Logger()`` is made, so every handler is imported first
    and then each of those loggers is set; one made later reads the level from the environment.
    """
    from fountain_saga import topology

    threshold = logging.getLevelName(level) if level else logging.CRITICAL + 1
    os.environ["POWERTOOLS_LOG_LEVEL"] = level or "CRITICAL"
    for function in topology.FUNCTIONS:
        resolve_handler(function.handler)
    known = logging.Logger.manager.loggerDict.values()
    loggers = [found for found in known if isinstance(found, logging.Logger)]
    for service in (found for found in loggers if vars(found).get("powertools_handler")):
        handler = vars(service)["powertools_handler"]
        if isinstance(handler, logging.StreamHandler):
            handler.setStream(stream)
        for each in loggers:
            if each is service or each.name.startswith(service.name + "."):
                each.setLevel(threshold)


def install() -> None:
    """Make moto's Docker-less Lambda run our handlers (idempotent)."""
    LambdaSimpleBackend.invoke = _invoke  # type: ignore[method-assign]
    # Here every handler shares one Powertools metric set (on Lambda each has its own process),
    # so one invocation may find it emptied by another's discard_metrics: not worth a warning.
    warnings.filterwarnings("ignore", message="No application metrics to publish")
