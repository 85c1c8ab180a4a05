"""Lambda entry points of the saga's own housekeeping: wiring only."""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from fountain_saga.saga.recovery import stuck_sagas
from fountain_saga.topology import STUCK_AFTER_ENV

logger = Logger()
tracer = Tracer()
metrics = Metrics()


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def sweep_stuck_sagas(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Count the sagas RUNNING or COMPENSATING for too long; the StuckSagas alarm watches it."""
    stuck = stuck_sagas(timedelta(minutes=int(os.environ.get(STUCK_AFTER_ENV, "15"))))
    metrics.add_metric(name="StuckSagas", unit=MetricUnit.Count, value=len(stuck))
    for saga in stuck:
        logger.warning("stuck saga", extra=saga.to_json())
    return {"stuck": [saga.to_json() for saga in stuck]}
