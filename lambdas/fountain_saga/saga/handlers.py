"""Lambda entry points of the saga's own housekeeping: wiring only."""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from fountain_saga.saga.announcements import publish_owed
from fountain_saga.saga.recovery import sweep
from fountain_saga.topology import (
    MAX_RECOVERY_ATTEMPTS,
    RECOVERY_ATTEMPTS_ENV,
    STATE_MACHINE_ARN_ENV,
    STUCK_AFTER_ENV,
)

logger = Logger()
tracer = Tracer()
metrics = Metrics()


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def sweep_stuck_sagas(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Recover interrupted sagas and publish the events sagas owe; count what is left for the alarms."""
    result = sweep(
        os.environ[STATE_MACHINE_ARN_ENV],
        stuck_after=timedelta(minutes=int(os.environ.get(STUCK_AFTER_ENV, "15"))),
        max_attempts=int(os.environ.get(RECOVERY_ATTEMPTS_ENV, str(MAX_RECOVERY_ATTEMPTS))),
    )
    metrics.add_metric(name="StuckSagas", unit=MetricUnit.Count, value=len(result.stuck))
    metrics.add_metric(name="SagasRecovered", unit=MetricUnit.Count, value=len(result.recovered))
    metrics.add_metric(name="UnrecoverableSagas", unit=MetricUnit.Count, value=len(result.exhausted))
    for recovery in result.recovered:
        logger.warning("recovering an interrupted saga", extra=recovery.to_json())
    for recovery in result.exhausted:
        logger.error(
            "saga left to an operator: its recovery attempts are exhausted", extra=recovery.to_json()
        )
    for saga in result.stuck:
        logger.warning("stuck saga", extra=saga.to_json())
    announcements = publish_owed()
    metrics.add_metric(name="AnnouncementsOwed", unit=MetricUnit.Count, value=announcements.owed)
    metrics.add_metric(
        name="AnnouncementsRepublished", unit=MetricUnit.Count, value=len(announcements.published)
    )
    metrics.add_metric(
        name="AnnouncementsStillOwed", unit=MetricUnit.Count, value=len(announcements.still_owed)
    )
    for announcement in announcements.published:
        logger.warning("published an event a saga owed", extra=announcement.to_json())
    for announcement in announcements.still_owed:
        logger.error("an event a saga owes could not be published", extra=announcement.to_json())
    return {**result.to_json(), "announcements": announcements.to_json()}
