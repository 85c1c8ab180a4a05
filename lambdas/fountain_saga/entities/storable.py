"""A play that cannot be stored is refused at the door, not accepted and rolled back later.

Before the intake stages a play, every row the saga will write is encoded exactly as its step
will encode it and measured by DynamoDB's item-size rules; a row over the limit refuses the
whole play, naming the part of the play that is too big.
"""

from __future__ import annotations

from typing import Any

from fountain_saga.entities.item_size import MAX_ITEM_BYTES
from fountain_saga.entities.records import encoded_size
from fountain_saga.play.document import ENTITY_KINDS, PlayDocument
from fountain_saga.play.fountain_import import PlayTooLarge

# Keys and ids as long as the real ones can be: a 32-character play id with a version of up to
# eight digits as the partition, and the longest saga id (a revision's) stamped on every row.
_PLAY_ID = "0" * 32
_PARTITION = f"{_PLAY_ID}.{'9' * 8}"
_SAGA_ID = f"revise-{_PLAY_ID}-{'9' * 8}"


def check_storable(play: PlayDocument) -> None:
    """Raise PlayTooLarge when any row of this play would exceed DynamoDB's item size."""
    for kind in ENTITY_KINDS:
        for part in [play.script] if kind == "script" else getattr(play, kind):
            size = encoded_size(kind, _PARTITION, _SAGA_ID, part)
            if size > MAX_ITEM_BYTES:
                record = vars(part)
                raise PlayTooLarge(
                    f"{_describe(kind, record)} would be stored as one DynamoDB item of {size:,} bytes; "
                    f"an item may hold at most {MAX_ITEM_BYTES:,} bytes (400 KB). {_advice(kind)}"
                )


def _describe(kind: str, record: dict[str, Any]) -> str:
    number = record.get("seq", 0) + 1
    if kind == "script":
        parts = {
            "the title page": len((record.get("title_source") or "").encode()),
            "the notes and sections before the first act": sum(
                len(vars(e)["text"].encode()) for e in record.get("preamble", [])
            ),
            "the text after the last element": len(record.get("tail", "").encode()),
        }
        held = ", ".join(f"{name} {size:,} bytes" for name, size in parts.items())
        return f"the script row ({held})"
    if kind == "acts":
        title = record.get("title")
        return (
            f"act {number}"
            + (f" ({_quoted(title)})" if title else "")
            + " with the notes before its first scene"
        )
    if kind == "scenes":
        heading = record.get("heading")
        where = f"({_quoted(heading)})" if heading else "(before the act's first heading)"
        return f"scene {number} {where} with its action, notes and other text"
    if kind == "dialogue":
        return f"speech {number} (by {_quoted(record.get('character'))})"
    if kind == "transitions":
        return f"transition {number}"
    return f"character {number} ({_quoted(record.get('name'))})"


def _quoted(text: Any, limit: int = 60) -> str:
    # Enough of a name or heading to find it; the message must not carry the oversized text back.
    text = str(text)
    return repr(text if len(text) <= limit else text[:limit] + "…")


def _advice(kind: str) -> str:
    if kind == "dialogue":
        return "Split the speech into several."
    if kind == "scenes":
        return "Split the scene with another heading, or move long notes out of it."
    return "Shorten it."
