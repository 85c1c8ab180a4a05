"""Comparing plays by content: "forced" flags are presentation, and a rebuild may set them."""

from __future__ import annotations

import dataclasses
from typing import Any

from fountain_saga.play.document import PlayDocument


def content_shape(play: PlayDocument) -> dict[str, Any]:
    """The play as plain data, without the "!" and "@" a rebuild may add to avoid misreading."""
    shape = dataclasses.asdict(play)
    for scene in shape["scenes"]:
        for element in scene["elements"]:
            element["forced"] = False
    for speech in shape["dialogue"]:
        speech["forced"] = False
    return shape
