"""The reader and the builder: Fountain text in, the play's six entities out, by the spec's rules.

The corpus (tests/corpus, test_corpus.py) checks whole documents; these tests pin single rules
and how elements find their place among acts and scenes.
"""

from __future__ import annotations

import pytest

from fountain_saga.play.document import PlayDocument
from fountain_saga.play.fountain_import import (
    MAX_ENTITIES_PER_KIND,
    MAX_LINES,
    MAX_TEXT_BYTES,
    PlayRejected,
    PlayTooLarge,
    parse_play,
)
from fountain_saga.play.fountain_syntax import plain, read
from tests.conftest import example_text

HEADING = "INT. X - DAY\n\n"


def kinds(text: str) -> list[str]:
    return [token.kind for token in read(text).tokens]


def speeches(play: PlayDocument) -> list[tuple[str, list[str]]]:
    return [(s.character, [line.kind for line in s.lines]) for s in play.dialogue]


@pytest.mark.parametrize(
    "cue",
    [
        "JOSÉ",
        "ÉLODIE",
        "МАША",
        "ΣΩΚΡΑΤΗΣ",
        "MAN’S VOICE",
        "BOB & ALICE",
        "HUSBAND/WIFE",
        "BOB, ALICE",
        "$VILLAIN",
        "R2D2",
    ],
)
def test_a_cue_is_uppercase_in_any_script(cue: str) -> None:
    play = parse_play(f"{HEADING}{cue}\nWhere is everyone?\n")
    assert [c.name for c in play.characters] == [cue]
    assert play.scenes[0].elements == []


@pytest.mark.parametrize("line", ["23", "李", "Bob", "(beat)", "...", "Bob: hi"])
def test_lines_that_are_not_cues_start_action(line: str) -> None:
    assert kinds(f"{HEADING}{line}\nSomething happens.\n") == ["heading", "action"]


def test_a_name_without_case_is_a_cue_when_forced() -> None:
    play = parse_play(f"{HEADING}@李\n你好。\n\n@McCLANE\nYippee.\n\nMCCLANE\nAgain.\n")
    assert [c.name for c in play.characters] == ["李", "MCCLANE"]  # one character, however written
    assert [s.cue for s in play.dialogue] == ["@李", "@McCLANE", "MCCLANE"]


@pytest.mark.parametrize(
    "line",
    [
        "INT. IS SHORT FOR INTERIOR.",
        "CUT TO:",
        "#1 fan here.",
        "= is the sign.",
        "!!! Wow.",
        ">hi<",
        "> than you.",
        ".45 caliber, right?",
        "===",
        "~not a song, a wish",
        "OK.",
    ],
)
def test_every_line_after_a_cue_up_to_a_blank_line_is_the_speech(line: str) -> None:
    play = parse_play(f"{HEADING}ALICE\n{line}\nAnd then?\n")
    assert kinds(f"{HEADING}ALICE\n{line}\nAnd then?\n") == ["heading", "speech"]
    assert [line.text for line in play.dialogue[0].lines] == [line, "And then?"]
    assert play.counts()["transitions"] == 0 and len(play.scenes) == 1


def test_speech_lines_are_dialogue_parentheticals_and_lyrics() -> None:
    play = parse_play(f"{HEADING}MIKE (V.O.) (CONT'D)\nOK.\n(beat)\n~la la\n  \nLet's go.\n")
    (speech,) = play.dialogue
    assert speech.extensions == ["V.O.", "CONT'D"]
    assert [line.kind for line in speech.lines] == [
        "dialogue",
        "parenthetical",
        "lyrics",
        "dialogue",
        "dialogue",
    ]
    assert speech.lines[3].text == "  "  # two spaces keep a blank line inside the speech


def test_a_cue_alone_is_action_and_a_caret_pairs_only_after_a_speech() -> None:
    assert kinds(f"{HEADING}BOB\n\nBOB ^\nHi.\n") == ["heading", "action", "speech"]
    play = parse_play(f"{HEADING}BOB ^\nHi.\n\nADAM\nYes.\n\nEVE ^\nNo.\n\nCAIN ^\nMe?\n")
    assert [(s.character, s.dual) for s in play.dialogue] == [
        ("BOB", False),
        ("ADAM", True),
        ("EVE", True),
        ("CAIN", False),  # a pair has two halves
    ]


def test_headings_forced_numbered_or_not_at_all() -> None:
    play = parse_play(
        "INT. HOUSE - DAY #1A#\n\nint. attic #I-1-A#\n\nEXT. MOOR\n\n.FLASHBACK\n\n"
        "INT./EXT. CAR - MOVING\n\nI/E BUS\n\nEST. CITY - NIGHT\n\n...not a heading\n\nINTERIOR DESIGN\n\n"
        "INT. X\nspeaks\n"
    )
    assert [(s.heading, s.number) for s in play.scenes] == [
        ("INT. HOUSE - DAY", "1A"),
        ("int. attic", "I-1-A"),
        ("EXT. MOOR", None),
        ("FLASHBACK", None),
        ("INT./EXT. CAR - MOVING", None),
        ("I/E BUS", None),
        ("EST. CITY - NIGHT", None),
    ]
    assert play.scenes[3].source == ".FLASHBACK"
    # A heading needs a blank line after it: "INT. X" above a line is a cue, as the spec reads it.
    assert [s.character for s in play.dialogue] == ["INT. X"]


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("CUT TO:", "transition"),
        ("SMASH CUT TO:", "transition"),
        ("> Burn to white.", "transition"),
        ("FADE IN:", "action"),
        ("FADE OUT.", "action"),
        ("cut to:", "action"),
        ("CUT TO:  ", "action"),
        ("TO:", "action"),
        (">THE END<", "centered"),
        ("~la la", "lyrics"),
        ("===", "page_break"),
        ("= synopsis", "synopsis"),
        ("## Part", "section"),
        ("[[a note]]", "note"),
        ("!FORCED ACTION", "action"),
    ],
)
def test_a_single_line_reads_as_the_spec_says(line: str, expected: str) -> None:
    assert kinds(f"{HEADING}{line}\n\nMore.\n") == ["heading", expected, "action"]


def test_a_boneyard_leaves_the_blank_line_the_spec_asks_for() -> None:
    play = parse_play("INT. X - DAY\n\nCUT TO:\n/* cut */\nEXT. MANSION - DAY\n\nAction.\n")
    assert [t.text for t in play.transitions] == ["CUT TO:"]
    assert [s.heading for s in play.scenes] == ["INT. X - DAY", "EXT. MANSION - DAY"]
    assert play.scenes[1].gap == "\n/* cut */\n"


def test_notes_are_ignored_when_reading_and_kept_in_the_text() -> None:
    play = parse_play(f"{HEADING}JACK[[names?]]\nThey run[[faster?]] away.\n\n[[a note of its own]]\n")
    (speech,) = play.dialogue
    assert (speech.character, speech.cue) == ("JACK", "JACK[[names?]]")
    assert speech.lines[0].text == "They run[[faster?]] away."
    assert [(e.kind, e.text) for e in play.scenes[0].elements] == [("note", "[[a note of its own]]")]


def test_sections_and_synopses_stand_alone_at_the_top_of_a_paragraph() -> None:
    assert kinds("# ACT ONE\n= The hero leaves.\nINT. HOUSE - DAY\n\nAction.\n") == [
        "section",
        "synopsis",
        "heading",
        "action",
    ]
    # Lower down a paragraph they are its text: "#23" in action is not a section.
    assert kinds(f"{HEADING}He wears the jersey\n#23 and runs.\n") == ["heading", "action"]


def test_the_title_page_and_what_is_not_one() -> None:
    play = parse_play(
        "Title:\n    _**BRICK & STEEL**_\n\tFULL RETIRED\nAuthor: Stu\nDraft date: 1\n\nINT. X\n\nA.\n"
    )
    assert play.script.title == "BRICK & STEEL FULL RETIRED"
    assert play.script.title_page[1] == ("Author", "Stu")
    for start in ("FADE IN:", "INT. HOUSE - 3:00 PM"):
        play = parse_play(f"{start}\n\nINT. X\n\nA.\n")
        assert play.script.title_source is None and play.script.title == "Untitled"


def test_acts_scenes_and_where_marginal_elements_stand() -> None:
    play = parse_play(
        "[[before all]]\n\n= a synopsis\n\nAction before any act.\n\n# ACT ONE\n\n[[act note]]\n\n"
        "BOB\nHi.\n\nINT. ROOM\n\nMore.\n\n# ACT TWO\n\nCUT TO:\n"
    )
    assert [e.kind for e in play.script.preamble] == ["note", "synopsis"]
    assert [(a.seq, a.title) for a in play.acts] == [(0, None), (1, "ACT ONE"), (2, "ACT TWO")]
    assert [e.kind for e in play.acts[1].preamble] == ["note"]
    # Content before an act's first heading opens a scene without one.
    assert [(s.act_seq, s.heading) for s in play.scenes] == [
        (0, None),
        (1, None),
        (1, "INT. ROOM"),
        (2, None),
    ]
    assert play.dialogue[0].scene_seq == 1 and play.transitions[0].scene_seq == 3


def test_plain_text_pairs_emphasis_and_undoes_escapes_in_linear_time() -> None:
    assert plain("_**THE END**_") == "THE END"
    assert plain("He's \\*not\\* serious") == "He's *not* serious"
    assert plain("a * b") == "a * b"
    assert plain("*bold _and* under_") == "bold _and under_"  # markers nest; a crossed one stays
    assert plain("_" * 100_001) == "_" * 100_001  # a rule of underscores is not emphasis
    assert plain("**unclosed bold") == "**unclosed bold"
    assert plain("*_" * 50_000 + "x" + "_*" * 50_000) == "x"  # 100,000 levels deep, no recursion


def test_the_example_play() -> None:
    play = parse_play(example_text())
    assert play.script.title == "The Last Keeper"
    assert play.counts() == {"acts": 2, "scenes": 4, "characters": 2, "dialogue": 17, "transitions": 2}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "no scene heading"),
        ("   \n\n  \n", "no scene heading"),
        ("Just some action.\n\nMore action.", "no scene heading"),
        ("/* all boneyard */", "no scene heading"),
        ("Title: Only a title page\n", "no scene heading"),
        ("INT. A\x00B", "NUL"),
    ],
)
def test_text_without_a_play_is_rejected_with_a_reason(text: str, message: str) -> None:
    with pytest.raises(PlayRejected, match=message):
        parse_play(text)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (HEADING + "é" * (MAX_TEXT_BYTES // 2), "bytes long"),  # counted in bytes, not characters
        (HEADING + "BOB\nHi.\n\n" * (MAX_ENTITIES_PER_KIND + 1), "speeches"),
        (HEADING + "a\n\n" * (MAX_LINES + 1), "lines that are not blank"),
    ],
)
def test_a_play_too_large_to_store_is_refused_as_such(text: str, message: str) -> None:
    with pytest.raises(PlayTooLarge, match=message) as refused:
        parse_play(text)
    assert refused.value.code == "play_too_large"


def test_a_lone_surrogate_is_refused_not_stored() -> None:
    # JSON can carry "\ud800"; no table or file could store it, so it never reaches the saga.
    with pytest.raises(PlayRejected, match="surrogate"):
        parse_play(HEADING + "BOB\nHi \ud800.\n")
    with pytest.raises(PlayRejected, match="surrogate"):
        parse_play(HEADING + "BOB\nHi.\n", "A \udfff title")
