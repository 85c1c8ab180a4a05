"""The fast encodings write, read and measure exactly what the slow, obvious ones would.

A step encodes its rows straight to DynamoDB JSON, the reader decodes them without model
instances, the intake sizes every row without building it and stages records without
``dataclasses.asdict``. All four were made fast for long plays; all four must stay identical to
the pynamodb models' serialization, DynamoDB's size rules and ``PlayDocument.entity_records()``.
"""

from __future__ import annotations

import json

import pytest
from pynamodb.exceptions import AttributeNullError

from bench.playgen import generate_play
from fountain_saga.entities.item_size import MAX_ITEM_BYTES, item_size
from fountain_saga.entities.records import (
    encoded_size,
    item_from_record,
    record_from_item,
    record_from_row,
    row_from_record,
)
from fountain_saga.entities.storable import check_storable
from fountain_saga.play.document import ENTITY_KINDS
from fountain_saga.play.fountain_import import PlayRejected, PlayTooLarge, parse_play
from fountain_saga.saga.claim_check import encode_records
from tests.conftest import CORPUS, example_text

PLAY_ID = "0123456789abcdef0123456789abcdef"
SAGA_ID = f"create-{PLAY_ID}"
RICH = (
    "Title: Ω *and* _more_\nAuthor:\n    One\n\tTwo\n\n[[before]]\n\n# ACT ONE\n\n= synopsis\n\n"
    "INT. X - DAY #1#\n\n@McBob (V.O.) ^\n(beat)\nHi /* no */ there.\n~la\n\n>THE END<\n\n===\n\n"
    "> Burn to white.\n\n## deeper\n\n李\n\n"
)


def _texts() -> list[str]:
    corpus = [path.read_text(encoding="utf-8") for path in sorted(CORPUS.glob("*.fountain"))]
    return [example_text(), generate_play(120), RICH, *corpus]


def test_rows_are_the_models_serialization_read_back_and_sized_as_dynamodb_does() -> None:
    checked = 0
    for text in _texts():
        try:
            play = parse_play(text)
        except PlayRejected:
            continue  # some corpus documents hold no play, on purpose
        staged = encode_records(play)
        expected = play.entity_records()
        for kind in ENTITY_KINDS:
            assert staged[kind] == json.dumps(expected[kind], separators=(",", ":")).encode()
            for record in json.loads(staged[kind]):
                row = row_from_record(kind, PLAY_ID, SAGA_ID, record)
                item = item_from_record(kind, PLAY_ID, SAGA_ID, record)
                assert item == row.serialize()
                decoded = record_from_item(kind, item)
                assert decoded == record_from_row(row)
                # The staged record, plus what only the row has (the script's seq and status).
                as_json = json.loads(json.dumps(decoded))
                assert {k: v for k, v in as_json.items() if k in record} == record
                assert set(as_json) - set(record) <= {"seq", "status"}
                assert encoded_size(kind, PLAY_ID, SAGA_ID, record) == item_size(item)
        checked += 1
    assert checked >= 3


def test_item_size_follows_dynamodbs_published_rules() -> None:
    # Names and strings in UTF-8 bytes; numbers by significant digits; lists and maps 3 bytes
    # plus 1 per element; Booleans 1.
    assert item_size({"a": {"S": "é"}}) == 1 + 2
    assert item_size({"n": {"N": "12345"}}) == 1 + 4
    assert item_size({"b": {"BOOL": True}}) == 1 + 1
    assert item_size({"l": {"L": [{"S": "ab"}, {"M": {"k": {"S": "v"}}}]}}) == 1 + 3 + (1 + 2) + (
        1 + 3 + 1 + 1 + 1
    )


def test_a_row_over_400_kb_refuses_the_play_and_says_which_part() -> None:
    just_fits = parse_play("INT. X - DAY\n\n" + "y" * 400_000 + "\n")
    check_storable(just_fits)
    too_big = parse_play("INT. X - DAY\n\nBOB\n" + "\n(beat)\n".join(["字" * 50_000] * 3) + "\n")
    with pytest.raises(
        PlayTooLarge, match=r"speech 1 \(by 'BOB'\) would be stored as one DynamoDB item of"
    ) as refused:
        check_storable(too_big)
    assert f"{MAX_ITEM_BYTES:,} bytes" in str(refused.value)


def test_a_missing_required_value_is_refused_as_the_model_refuses_it() -> None:
    record = {"seq": 3, "name": None}
    with pytest.raises(AttributeNullError):
        row_from_record("characters", PLAY_ID, SAGA_ID, record).serialize()
    with pytest.raises(AttributeNullError):
        item_from_record("characters", PLAY_ID, SAGA_ID, record)


def test_a_refusal_names_the_part_without_echoing_it_back() -> None:
    huge_name = "B" + "_" * 500_000
    with pytest.raises(PlayTooLarge, match=r"character 1 \('B_{59}…'\)") as refused:
        check_storable(parse_play(f"INT. X - DAY\n\n{huge_name}\nHi.\n"))
    assert len(str(refused.value)) < 400
