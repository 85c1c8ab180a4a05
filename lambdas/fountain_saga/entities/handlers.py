"""Lambda entry points of the six entity services: wiring only.

Each handler parses its event, calls one function of ``service`` and returns a small result.
Each carries the name of the ASL state it serves; ``topology`` points that state's function at
it, and tests/infra checks that every Task's function runs the handler of its state.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from fountain_saga.entities import service
from fountain_saga.entities.batch_store import TransientStoreError
from fountain_saga.entities.deadline import Deadline, StepOutOfTime
from fountain_saga.entities.service import (
    InvalidStepRequest,
    ScriptMissing,
    StepRequest,
    StepResult,
    VersionConflict,
)
from fountain_saga.saga.faults import InjectedFault

logger = Logger()
tracer = Tracer()
metrics = Metrics()

Operation = Callable[[str, StepRequest, Deadline], StepResult]


class StepFailed(Exception):
    """Any other failure of a step, said without the details that stay in its logs."""


# What a handler may raise as it is: errors whose messages were written for the client.
CLIENT_SAFE_ERRORS = (
    InjectedFault,
    TransientStoreError,
    InvalidStepRequest,
    ScriptMissing,
    StepOutOfTime,
    VersionConflict,
)
Handler = Callable[[dict[str, Any], LambdaContext], dict[str, Any]]


def _step_handler(step: str, operation: Operation) -> Handler:
    @logger.inject_lambda_context(correlation_id_path="playId", clear_state=True)
    @tracer.capture_lambda_handler(capture_response=False)
    @metrics.log_metrics
    def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        # The state's timer started just before this line: its deadline is counted from here.
        started = time.monotonic()
        # Counted first, so a failing invocation is counted too (and flushes a non-empty set).
        metrics.add_metric(name="StepInvocations", unit=MetricUnit.Count, value=1)
        try:
            request = StepRequest.from_event(event)
            # One function serves several states (Delete<Kind> compensates, cleans up and
            # deletes): the state is what the logs, the faults and the deadline's message name.
            state = request.state or step
            logger.append_keys(step=state, saga_id=request.saga_id, version=request.version)
            deadline = Deadline.of_invocation(state, context, request.timeout_seconds, started=started)
            result = operation(state, request, deadline)
        except CLIENT_SAFE_ERRORS:
            logger.exception("step failed")
            raise
        except Exception as error:
            # The whole exception goes to the logs, under the play id; what the state machine
            # records, and clients read, names neither files nor tables.
            logger.exception("step failed unexpectedly")
            raise StepFailed(
                f"{step} failed unexpectedly ({type(error).__name__}); the logs of play "
                f"{event.get('playId')} hold the details"
            ) from None
        metrics.add_metric(name="RowsChanged", unit=MetricUnit.Count, value=result.rows)
        logger.info("step done", extra=result.to_event())
        return result.to_event()

    handler.__name__ = step
    wrapped: Handler = handler
    return wrapped


def _create(kind: str) -> Operation:
    return lambda step, request, deadline: service.create_entities(kind, step, request, deadline)


def _delete(kind: str) -> Operation:
    return lambda step, request, deadline: service.delete_entities(kind, step, request, deadline)


create_script = _step_handler("CreateScript", _create("script"))
create_acts = _step_handler("CreateActs", _create("acts"))
create_scenes = _step_handler("CreateScenes", _create("scenes"))
create_characters = _step_handler("CreateCharacters", _create("characters"))
create_dialogue = _step_handler("CreateDialogue", _create("dialogue"))
create_transitions = _step_handler("CreateTransitions", _create("transitions"))
publish_play = _step_handler("PublishPlay", service.publish_play)

delete_script = _step_handler("DeleteScript", _delete("script"))
delete_acts = _step_handler("DeleteActs", _delete("acts"))
delete_scenes = _step_handler("DeleteScenes", _delete("scenes"))
delete_characters = _step_handler("DeleteCharacters", _delete("characters"))
delete_dialogue = _step_handler("DeleteDialogue", _delete("dialogue"))
delete_transitions = _step_handler("DeleteTransitions", _delete("transitions"))
unpublish_play = _step_handler("UnpublishPlay", service.unpublish_play)

switch_version = _step_handler("SwitchVersion", service.switch_version)
restore_version = _step_handler("RestoreVersion", service.restore_version)
mark_deleting = _step_handler("MarkDeleting", service.mark_deleting)
forget_play = _step_handler("ForgetPlay", service.forget_play)
