"""The fast encodings write exactly what the slow, obvious ones would.

A step encodes its rows straight to DynamoDB JSON, and the intake stages records without
``dataclasses.asdict``; both were made fast for long plays, and both must stay identical to the
pynamodb model's serialization and to ``PlayDocument.entity_records()``.
"""

from __future__ import annotations

import json

import pytest
from pynamodb.exceptions import AttributeNullError

from fountain_saga.entities.records import item_from_record, row_from_record
from fountain_saga.play.document import ENTITY_KINDS
from fountain_saga.play.fountain_import import PlayRejected, parse_play
from fountain_saga.saga.claim_check import encode_records
from tests.conftest import REPO, all_samples

PLAY_ID = "0123456789abcdef0123456789abcdef"


@pytest.mark.usefixtures("samples")
def test_items_are_the_models_serialization_and_staging_is_entity_records() -> None:
    checked = 0
    for path in [*all_samples(), REPO / "examples" / "the-last-keeper.fountain"]:
        try:
            play = parse_play(path.read_text(encoding="utf-8"))
        except PlayRejected:
            continue  # some samples hold no play
        staged = encode_records(play)
        expected = play.entity_records()
        for kind in ENTITY_KINDS:
            assert staged[kind] == json.dumps(expected[kind], separators=(",", ":")).encode(), path.name
            for record in json.loads(staged[kind]):
                model_item = row_from_record(kind, PLAY_ID, "create-x", record).serialize()
                assert item_from_record(kind, PLAY_ID, "create-x", record) == model_item, path.name
        checked += 1
    assert checked >= 20


def test_a_missing_required_value_is_refused_as_the_model_refuses_it() -> None:
    record = {"seq": 3, "name": None}
    with pytest.raises(AttributeNullError):
        row_from_record("characters", PLAY_ID, "create-x", record).serialize()
    with pytest.raises(AttributeNullError):
        item_from_record("characters", PLAY_ID, "create-x", record)
