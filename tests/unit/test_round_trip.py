"""Every character survives text → staged records → DynamoDB items → text.

Byte for byte, but for the normalisations docs/fountain-reading.md lists: line endings become
LF, a leading byte-order mark goes, and a requested title is written into the title page.
"""

from __future__ import annotations

import json

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from fountain_saga.entities.records import item_from_record, record_from_item
from fountain_saga.play.document import ENTITY_KINDS, PlayDocument, document_from_records
from fountain_saga.play.fountain_export import render_fountain
from fountain_saga.play.fountain_import import PlayRejected, parse_play
from fountain_saga.play.fountain_syntax import normalise

PLAY_ID = "0123456789abcdef0123456789abcdef"

# Lines that exercise every rule, their edges and their interplay.
_LINES = st.sampled_from(
    [
        "INT. KITCHEN - DAY",
        "ext. moor #3#",
        "INT./EXT. CAR - MOVING #1A#",
        ".FORCED",
        "...not a heading",
        "BOB",
        "JOSÉ (V.O.) (CONT'D)",
        "МАША",
        "@McCoy",
        "ALICE ^",
        "(beat)",
        "Hello there.",
        "OK.",
        "CUT TO:",
        "CUT TO:  ",
        "FADE IN:",
        "> Burn to white.",
        ">THE END<",
        "~la la la",
        "# ACT ONE",
        "## Part *two*",
        "= a synopsis",
        "===",
        "[[a note]]",
        "He runs[[faster?]] away.",
        "[[ a note that",
        "goes on]]",
        "[[ open note",
        "/* boneyard */",
        "/*",
        "*/",
        "!FORCED ACTION",
        "Title: A *Play*",
        "Author: Someone",
        "    indented value",
        "\tTabbed",
        "  ",
        " ",
        "",
        "",
        "",
        "**bold** and *italic* _under_ \\*escaped\\*",
        "_**THE END**_",
        "Ünïcödé — “quotes” 李",
        "trailing spaces   ",
    ]
)
_TEXT = st.one_of(
    st.builds(
        lambda head, lines, newline, bom: ("\ufeff" if bom else "") + newline.join([*head, *lines]),
        # Half the texts start with a heading, so that most of them are plays.
        st.sampled_from([[], ["INT. X - DAY", ""]]),
        st.lists(_LINES, max_size=50),
        st.sampled_from(["\n", "\r\n", "\r"]),
        st.booleans(),
    ),
    st.text(st.characters(blacklist_categories=("Cs",)), max_size=300),
)


def stored_and_read_back(play: PlayDocument) -> PlayDocument:
    """The play as the saga stores it (staged JSON, then one DynamoDB item per row) and reads it."""
    staged = json.loads(json.dumps(play.entity_records()))
    items = {
        kind: [item_from_record(kind, PLAY_ID, "create-x", r) for r in staged[kind]] for kind in ENTITY_KINDS
    }
    return document_from_records(
        {kind: [record_from_item(kind, i) for i in items[kind]] for kind in ENTITY_KINDS}
    )


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_TEXT)
@example("INT. X - DAY\n\nCUT TO:\n/* cut */\nEXT. MANSION - DAY\n\nAction.")
@example("INT. X - DAY\n\nJACK[[names?]]\nThey run.\n\n\n\nHe's \\*not\\* serious.\n\n_**THE END**_\n")
@example("INT. X - DAY\n\nBOB\nHi /* a\n\nb */ there.\n[[x\ny]]\n~la\n~la\n\n[[note]]\n")
def test_a_stored_play_gives_back_every_character(text: str) -> None:
    try:
        play = parse_play(text)
    except PlayRejected as rejected:
        assert str(rejected)
        return
    assert parse_play(text) == play  # deterministic
    assert render_fountain(stored_and_read_back(play)) == normalise(text)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_TEXT, st.sampled_from(["The Keeper", "my_play *draft* \\ 2", "  spaced   out  ", "Ω: a title"]))
def test_a_requested_title_is_written_into_the_title_page(text: str, title: str) -> None:
    try:
        play = parse_play(text, title)
    except PlayRejected:
        return
    wanted = " ".join(title.split())
    assert play.script.title == wanted
    given_back = render_fountain(stored_and_read_back(play))
    again = parse_play(given_back)
    assert again.script.title == wanted
    assert render_fountain(again) == given_back  # the title page is now part of the text
    assert again.counts() == play.counts()


def test_the_title_replaces_the_title_pages_own_and_keeps_its_other_fields() -> None:
    text = "Title:\n    _**OLD**_\n    NAME\nAuthor: Me\n\nINT. X - DAY\n\nBOB\nHi.\n"
    given_back = render_fountain(parse_play(text, "New Name"))
    assert given_back == "Title: New Name\nAuthor: Me\n\nINT. X - DAY\n\nBOB\nHi.\n"
    assert render_fountain(parse_play("Author: Me\n\nINT. X\n\nAction.\n", "T")) == (
        "Title: T\nAuthor: Me\n\nINT. X\n\nAction.\n"
    )
    assert render_fountain(parse_play("INT. X\n\nAction.\n", "T")) == "Title: T\n\nINT. X\n\nAction.\n"


def test_a_title_that_would_change_how_the_text_reads_is_refused() -> None:
    for marker in ("a /* b", "c */", "[[d", "e]]"):
        try:
            parse_play("INT. X\n\nAction.\n", marker)
        except PlayRejected as error:
            assert "note or comment" in str(error)
        else:
            raise AssertionError(f"{marker!r} was accepted as a title")
