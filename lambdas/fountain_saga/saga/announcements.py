"""Events sagas owe: the outcome the state machine could not put on the bus.

The state machine announces how each saga ended (PlayCreated, PlayRolledBack,
PlayCompensationFailed) once the ledger says so. A saga does not un-end because PutEvents keeps
failing: after its retries the state machine writes the entry it could not send on the ledger
(``announcement``, with ``owes`` for the sparse byOwed index) and ends the way the saga did.
``publish_owed``, run by the sweeper every five minutes, puts each owed entry on the bus as the
state machine composed it, so the event's shape has one author, the ASL, and then clears the mark.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError
from pynamodb.exceptions import UpdateError

from fountain_saga.saga import ledger
from fountain_saga.saga.ledger import OWES_ANNOUNCEMENT, LedgerRow
from fountain_saga.topology import aws_region


@dataclass(frozen=True)
class OwedAnnouncement:
    play_id: str
    detail_type: str
    owed_at: str
    # Why the state machine could not publish it, and, while it is still owed, why the sweeper could not.
    error: str
    republish_error: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "playId": self.play_id,
            "detailType": self.detail_type,
            "owedAt": self.owed_at,
            "error": self.error,
            "republishError": self.republish_error,
        }


@dataclass
class Announcements:
    """One pass over the owed events."""

    published: list[OwedAnnouncement] = field(default_factory=list)
    # Publishing failed again: still on the ledger, for the next pass.
    still_owed: list[OwedAnnouncement] = field(default_factory=list)

    @property
    def owed(self) -> int:
        """How many this pass found."""
        return len(self.published) + len(self.still_owed)

    def to_json(self) -> dict[str, Any]:
        return {
            "published": [a.to_json() for a in self.published],
            "stillOwed": [a.to_json() for a in self.still_owed],
        }


def publish_owed() -> Announcements:
    """Publish every event a saga owes, exactly as the state machine composed it, and clear its mark."""
    events = boto3.client("events", region_name=aws_region())
    result = Announcements()
    for listed in LedgerRow.by_owed.query(OWES_ANNOUNCEMENT):
        # The index may lag; the entry decides whether the event is still owed, and which one.
        row = ledger.get_entry(listed.play_id)
        mark = ledger.announcement_of(row) if row is not None else None
        if row is None or mark is None:
            continue
        owed = OwedAnnouncement(row.play_id, str(mark["detailType"]), str(mark["owedAt"]), str(mark["error"]))
        failure = _put(events, mark)
        if failure is not None:
            result.still_owed.append(
                OwedAnnouncement(owed.play_id, owed.detail_type, owed.owed_at, owed.error, failure)
            )
        elif _clear(row, owed.owed_at):
            result.published.append(owed)
    return result


def _put(events: Any, mark: dict[str, Any]) -> str | None:
    """Put the owed entry on its bus; the reason it was not, or None."""
    entry = {
        "EventBusName": mark["eventBusName"],
        "Source": mark["source"],
        "DetailType": mark["detailType"],
        "Detail": mark["detail"],
        # What Step Functions adds to each entry it puts: the state machine and the execution.
        "Resources": [str(resource) for resource in mark.get("resources") or []],
    }
    try:
        response = events.put_events(Entries=[entry])
    except (BotoCoreError, ClientError) as error:
        return str(error)
    if response.get("FailedEntryCount"):
        (failed,) = response["Entries"]
        return f"{failed.get('ErrorCode')}: {failed.get('ErrorMessage')}"
    return None


def _clear(row: LedgerRow, owed_at: str) -> bool:
    """Remove the mark just published; False if another one replaced it meanwhile (a resumed saga
    that ended again), which stays for the next pass."""
    try:
        row.update(
            actions=[LedgerRow.announcement.remove(), LedgerRow.owes.remove()],
            condition=LedgerRow.announcement["owedAt"] == owed_at,
        )
    except UpdateError as error:
        if error.cause_response_code != "ConditionalCheckFailedException":
            raise
        return False
    return True
