"""How big DynamoDB says an item is, by its published rules, before we try to write it.

From "DynamoDB item sizes and formats" (Amazon DynamoDB Developer Guide): an item is the sum of
its attribute names and values, names and strings counted in UTF-8 bytes; a number is about one
byte per two significant digits plus one; a Boolean or null is one byte; a list or map costs
three bytes plus its elements, and each element one byte more. An item may not exceed 400 KB.

moto and DynamoDB Local count less (no list or map overhead), so an item that passes here
passes them too; counting as AWS does is what keeps a play that is accepted locally writable on
AWS.
"""

from __future__ import annotations

from typing import Any

MAX_ITEM_BYTES = 400 * 1024
_CONTAINER_OVERHEAD = 3
_ELEMENT_OVERHEAD = 1


def item_size(item: dict[str, dict[str, Any]]) -> int:
    """The size of an item in DynamoDB's JSON (``{"name": {"S": "..."}}``), in bytes."""
    return sum(utf8_size(name) + value_size(value) for name, value in item.items())


def value_size(value: dict[str, Any]) -> int:
    (kind, payload), *_ = value.items()
    if kind == "S":
        return utf8_size(payload)
    if kind == "N":
        return number_size(payload)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "B":
        return len(payload)
    if kind == "L":
        return _CONTAINER_OVERHEAD + sum(_ELEMENT_OVERHEAD + value_size(v) for v in payload)
    if kind == "M":
        return _CONTAINER_OVERHEAD + sum(
            _ELEMENT_OVERHEAD + utf8_size(name) + value_size(v) for name, v in payload.items()
        )
    if kind == "SS":
        return sum(utf8_size(v) for v in payload)
    if kind == "NS":
        return sum(number_size(v) for v in payload)
    raise ValueError(f"unknown DynamoDB type {kind!r}")


def number_size(text: str) -> int:
    """A number written as text, by significant digits (rounded up: never under AWS's figure)."""
    digits = text.lstrip("-").split("e")[0].split("E")[0].replace(".", "").strip("0") or "0"
    return (len(digits) + 1) // 2 + 1


def utf8_size(text: str) -> int:
    # ASCII, the common case, is one byte a character; only other text needs encoding to count.
    return len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))
