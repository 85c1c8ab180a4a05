"""Any text either parses within the budget or is rejected clearly; parsing is deterministic,
and what parses survives the trip back to Fountain."""

from __future__ import annotations

import time

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fountain_saga.play.fountain_export import render_fountain
from fountain_saga.play.fountain_import import PlayRejected, parse_play
from tests.unit.play_shape import content_shape

BUDGET_SECONDS = 2.0

_LINES = st.sampled_from(
    [
        "INT. KITCHEN - DAY",
        "EXT. MOOR #3#",
        ".FORCED",
        "BOB",
        "MARY (V.O.) (CONT'D)",
        "@McCoy",
        "ALICE ^",
        "(beat)",
        "Hello there.",
        "CUT TO:",
        "> FADE OUT.",
        ">CENTRED<",
        "~la la",
        "# ACT ONE",
        "## Part",
        "= synopsis",
        "[[note]]",
        "[[ open note",
        "/*",
        "*/",
        "===",
        "!SHOUTED ACTION",
        "Title: A Play",
        "  ",
        "",
        "",
        "**bold** and *italic* _under_",
        "Ünïcödé — “quotes”",
        "\t\tINDENTED",
    ]
)
_TEXT = st.one_of(
    st.lists(_LINES, max_size=60).map("\n".join),
    st.text(st.characters(blacklist_categories=("Cs",)), max_size=400),
)


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_TEXT)
def test_any_text_parses_or_is_rejected_within_budget_and_deterministically(text: str) -> None:
    started = time.perf_counter()
    try:
        play = parse_play(text)
    except PlayRejected as error:
        assert str(error)
        assert time.perf_counter() - started < BUDGET_SECONDS
        return
    assert time.perf_counter() - started < BUDGET_SECONDS
    assert parse_play(text) == play
    assert content_shape(parse_play(render_fountain(play))) == content_shape(play)
