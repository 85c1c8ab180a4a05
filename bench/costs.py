"""What one play would cost on AWS, from the counts measured locally.

List prices in us-east-1 (on-demand, no free tier). The counts are exact; the two estimates are
Lambda durations (measured here, where DynamoDB answers in-process, so AWS's network round
trips would add to them) and DynamoDB item sizes (computed by DynamoDB's documented rules).
"""

from __future__ import annotations

from typing import Any

from bench.measure import SizeResult
from bench.probes import write_units
from fountain_saga.topology import LEDGER_TABLE, function

REGION = "us-east-1"
# Every price the estimate uses, in one place, as the AWS pricing pages listed them on that day
# (aws.amazon.com/step-functions/pricing, /lambda/pricing, /dynamodb/pricing/on-demand,
# /s3/pricing, /eventbridge/pricing). Check them again and move the date when you change one.
PRICES_CHECKED = "2026-11-29"
PRICES_USD: dict[str, float] = {
    "stepFunctionsStandardPerStateTransition": 0.025 / 1000,
    "lambdaPerGbSecond": 0.0000166667,
    "lambdaPerRequest": 0.20 / 1_000_000,
    # Halved from $1.25 in November 2024.
    "dynamodbOnDemandPerWriteRequestUnit": 0.625 / 1_000_000,
    "s3PutRequest": 0.005 / 1000,
    "s3GetRequest": 0.0004 / 1000,
    "eventBridgeCustomEvent": 1.00 / 1_000_000,
}
# intake.start_play writes the ledger entry (a conditional PutItem) and then records the staged
# prefix on it (an UpdateItem), before the state machine takes over.
INTAKE_LEDGER_WRITES = 2
# The API function runs the intake: one more invocation per play, at its configured memory.
API_FUNCTION = "Api"

ASSUMPTIONS = (
    f"Region {REGION}, on-demand list prices, no free tier.",
    "Step Functions Standard: every state entered is a billed transition (retries would add more).",
    "Lambda: each saga invocation plus the API invocation that runs the intake, billed for the "
    "handler time measured here at the memory configured in topology.py; on AWS the DynamoDB "
    "round trips would make the durations longer.",
    "DynamoDB on-demand: 1 write request unit per started KB of each item put, deleted or updated "
    "(a delete of an absent key costs 1); each ledger write is also counted as writing each of the "
    f"ledger's {len(LEDGER_TABLE.indexes)} global secondary indexes, 1 unit each (they project only keys "
    "and a few small attributes; the sparse byOwed is written only for an owed event, so this errs high).",
    "S3 staging (one PUT per entity kind, one GET per forward step) and the one EventBridge event "
    "per saga are included; CloudWatch Logs, X-Ray and data transfer are not.",
)


def cost_per_play(result: SizeResult) -> dict[str, Any]:
    ledger_units = write_units(result.ledger_item_bytes) + len(LEDGER_TABLE.indexes)
    write_request_units = result.write_units + (result.ledger_updates + INTAKE_LEDGER_WRITES) * ledger_units
    api_gb_seconds = result.intake_seconds * function(API_FUNCTION).memory_mb / 1024
    lambda_requests = result.lambda_invocations + 1
    usd = {
        "stepFunctions": result.state_transitions * PRICES_USD["stepFunctionsStandardPerStateTransition"],
        "lambda": lambda_requests * PRICES_USD["lambdaPerRequest"]
        + (result.lambda_gb_seconds + api_gb_seconds) * PRICES_USD["lambdaPerGbSecond"],
        "dynamodb": write_request_units * PRICES_USD["dynamodbOnDemandPerWriteRequestUnit"],
        "s3AndEvents": result.s3_calls.get("PutObject", 0) * PRICES_USD["s3PutRequest"]
        + result.s3_calls.get("GetObject", 0) * PRICES_USD["s3GetRequest"]
        + result.events_published * PRICES_USD["eventBridgeCustomEvent"],
    }
    usd["total"] = sum(usd.values())
    return {
        "speeches": result.speeches,
        "path": result.path,
        "stateTransitions": result.state_transitions,
        "lambdaRequests": lambda_requests,
        "lambdaGbSeconds": round(result.lambda_gb_seconds + api_gb_seconds, 4),
        "rowsWritten": result.rows,
        "rowsDeleted": result.rows_deleted,
        "ledgerUpdates": result.ledger_updates,
        "writeRequestUnits": write_request_units,
        "s3Requests": dict(result.s3_calls),
        "events": result.events_published,
        "usd": {k: round(v, 7) for k, v in usd.items()},
    }
