"""The parser, on the shared samples: Fountain text in, the play's entities out."""

from __future__ import annotations

import pytest

from fountain_saga.play.fountain_import import MAX_ELEMENT_CHARS, PlayRejected, parse_play
from tests.conftest import sample_text


def test_the_last_birthday_card_has_its_acts_scenes_and_people() -> None:
    play = parse_play(sample_text("screenplain/The-Last-Birthday-Card.fountain"))

    assert play.script.title == "THE LAST BIRTHDAY CARD"
    assert dict(play.script.title_page)["author"] == "Stu Maschwitz"
    assert [a.title for a in play.acts] == ["ACT I", "ACT II: A New Day", "ACT III: The Showdown"]
    assert play.counts() == {"acts": 3, "scenes": 49, "characters": 12, "dialogue": 134, "transitions": 25}
    # "HERE WE GO:" stands before the first heading of ACT I: it opens an implicit scene.
    first = play.scenes[0]
    assert first.heading is None and first.act_seq == 0
    assert play.transitions[0].text == "HERE WE GO:" and play.transitions[0].scene_seq == first.seq
    assert play.scenes[1].heading == "INT. SAN FRANCISCO APARTMENT, DAY"


def test_big_fish_counts() -> None:
    play = parse_play(sample_text("reference/Big-Fish.fountain"))
    assert play.script.title == "Big Fish"
    assert len(play.acts) == 1 and play.acts[0].title is None  # no sections: one implicit act
    assert play.counts()["scenes"] == 191
    assert play.counts()["dialogue"] == 763
    assert play.counts()["transitions"] == 34


def test_characters_are_distinct_uppercase_names_without_extensions() -> None:
    play = parse_play(sample_text("reference/Dialogue.fountain"))
    assert [c.name for c in play.characters] == ["ADAM", "EVE", "R2D2"]
    eve = [d for d in play.dialogue if d.character == "EVE"]
    assert eve[0].extensions == ["O.S."]
    assert eve[2].extensions == ["cont'd"]


def test_several_extensions_and_the_force_marker() -> None:
    play = parse_play("INT. ROOM\n\nBOB (V.O.) (CONT'D)\nHi.\n\n@McBob (O.S.)\n(beat)\nYo.\n")
    bob, mcbob = play.dialogue
    assert (bob.character, bob.extensions) == ("BOB", ["V.O.", "CONT'D"])
    assert (mcbob.character, mcbob.cue, mcbob.forced, mcbob.extensions) == ("MCBOB", "McBob", True, ["O.S."])
    assert [(ln.kind, ln.text) for ln in mcbob.lines] == [("parenthetical", "(beat)"), ("dialogue", "Yo.")]
    assert [c.name for c in play.characters] == ["BOB", "MCBOB"]


def test_dual_dialogue_flags_both_speeches() -> None:
    play = parse_play(sample_text("reference/DualDialogue.fountain"))
    assert [(d.character, d.dual) for d in play.dialogue] == [("ADAM", True), ("EVE", True)]


def test_parentheticals_stay_in_place_within_a_speech() -> None:
    play = parse_play(sample_text("reference/Dialogue.fountain"))
    adam = play.dialogue[2]
    assert [ln.kind for ln in adam.lines] == ["parenthetical", "dialogue"]


def test_scene_numbers_and_forced_headings() -> None:
    numbers = parse_play(sample_text("reference/SceneNumbers.fountain"))
    assert [s.number for s in numbers.scenes] == ["1", "1A", "1a", "A1", "I-1-A", "1.", "110A"]
    forced = parse_play("INT. HOUSE\n\nAction.\n\n.THE ATTIC\n\nMore action.\n")
    assert [(s.heading, s.forced) for s in forced.scenes] == [("INT. HOUSE", False), ("THE ATTIC", True)]


def test_transitions_plain_and_forced_but_not_centred() -> None:
    play = parse_play(sample_text("reference/Simple.fountain"))
    assert [(t.text, t.forced) for t in play.transitions] == [("FADE IN:", False), ("Burn to White.", True)]
    centred = [e for s in play.scenes for e in s.elements if e.kind == "centered"]
    assert [e.text for e in centred] == ["THE END"]


def test_action_notes_lyrics_and_sections_are_kept_in_order_and_boneyard_dropped() -> None:
    play = parse_play(sample_text("reference/Simple.fountain"))
    kinds = [e.kind for s in play.scenes for e in s.elements]
    assert "note" in kinds and "synopsis" in kinds and "section" in kinds
    texts = " ".join(e.text for s in play.scenes for e in s.elements)
    assert "boneyard" not in texts
    positions = [e.position for e in play.scenes[2].elements]
    assert positions == sorted(positions)


def test_emphasis_is_kept_as_markup() -> None:
    play = parse_play("INT. ROOM\n\nBOB\nI'm *sure* it's **fine**.\n")
    assert play.dialogue[0].lines[0].text == "I'm *sure* it's **fine**."


def test_title_override_and_utf8_bom() -> None:
    play = parse_play(sample_text("screenplain/utf-8-bom.fountain"), title="Sunny")
    assert play.script.title == "Sunny"
    assert play.scenes[0].heading == "EXT. SOMEWHERE - DAY"  # the BOM no longer hides the heading


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "no scene heading"),
        ("   \n\n  \n", "no scene heading"),
        ("Just some action.\n\nMore action.", "no scene heading"),
        ("/* all boneyard */", "no scene heading"),
        ("INT. A\x00B", "NUL"),
        ("INT. ROOM\n\n" + "x" * (MAX_ELEMENT_CHARS + 1), "longer than"),
    ],
)
def test_text_without_a_play_is_rejected_with_a_reason(text: str, message: str) -> None:
    with pytest.raises(PlayRejected, match=message):
        parse_play(text)


def test_parsing_is_deterministic() -> None:
    text = sample_text("screenplain/Brick-and-Steel.fountain")
    assert parse_play(text) == parse_play(text)
