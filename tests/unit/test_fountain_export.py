"""The rebuilt Fountain text parses back to the same play: the proof the model holds it all."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fountain import ElementType, FountainParser

from fountain_saga.play.document import PlayDocument, document_from_records
from fountain_saga.play.fountain_export import render_fountain
from fountain_saga.play.fountain_import import PlayRejected, parse_play
from tests.conftest import all_samples
from tests.unit.play_shape import content_shape


def _playable(path: Path) -> PlayDocument | None:
    try:
        return parse_play(path.read_text(encoding="utf-8"))
    except PlayRejected:
        return None


@pytest.mark.parametrize("path", all_samples(), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_sample_survives_the_round_trip_or_is_rejected_for_holding_no_play(path: Path) -> None:
    play = _playable(path)
    if play is None:
        # Rejected: check, with the library alone, that there really is no heading and no speech.
        kinds = {e.type for e in FountainParser().parse(path.read_text(encoding="utf-8")).elements}
        assert not kinds & {ElementType.SCENE_HEADING, ElementType.CHARACTER, ElementType.DUAL_DIALOGUE}
        return
    # Through JSON, as the records travel (S3 and DynamoDB), then back to text and parsed again.
    records = json.loads(json.dumps(play.entity_records()))
    rebuilt = parse_play(render_fountain(document_from_records(records)))
    assert content_shape(rebuilt) == content_shape(play)


def test_at_least_the_full_scripts_are_playable() -> None:
    playable = [p.name for p in all_samples() if _playable(p) is not None]
    assert {"Big-Fish.fountain", "Brick-and-Steel.fountain", "The-Last-Birthday-Card.fountain"} <= set(
        playable
    )
    assert len(playable) >= 20
