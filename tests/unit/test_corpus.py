"""The project's own corpus (tests/corpus): each document read as its expectations say, and
given back byte for byte.

``expected.toml`` was written from docs/fountain-reading.md, by hand, for each document: its
counts and, where they make its point, its elements, characters, headings, transitions, acts,
title and speeches. The extra corpus (FOUNTAIN_SAMPLES), when present, is held to the round trip.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest

from fountain_saga.play.document import PlayDocument
from fountain_saga.play.fountain_export import render_fountain
from fountain_saga.play.fountain_import import PlayRejected, parse_play
from fountain_saga.play.fountain_syntax import normalise, read
from tests.conftest import CORPUS, extra_samples
from tests.unit.test_round_trip import stored_and_read_back

EXPECTED: dict[str, dict[str, Any]] = tomllib.loads((CORPUS / "expected.toml").read_text(encoding="utf-8"))
DOCUMENTS = sorted(path.stem for path in CORPUS.glob("*.fountain"))


def test_the_corpus_is_complete() -> None:
    assert sorted(EXPECTED) == DOCUMENTS, "every document has expectations, and every expectation a document"
    assert len(DOCUMENTS) >= 60
    plays = [name for name in DOCUMENTS if "rejected" not in EXPECTED[name]]
    assert sum(len(corpus_text(name)) > 4_000 for name in plays) >= 5, "a few long plays"


def corpus_text(name: str) -> str:
    return (CORPUS / f"{name}.fountain").read_text(encoding="utf-8")


def elements(text: str) -> list[str]:
    reading = read(text)
    names = ["title_page"] if reading.title_page else []
    for token in reading.tokens:
        names.append("act" if token.kind == "section" and token.level == 1 else token.kind)
    return names


def observed(play: PlayDocument, text: str) -> dict[str, Any]:
    """The document as the expectations describe it."""
    return {
        "counts": play.counts(),
        "characters": [c.name for c in play.characters],
        "elements": elements(text),
        "headings": [s.heading for s in play.scenes if s.heading is not None],
        "scene_numbers": [s.number for s in play.scenes if s.number is not None],
        "transitions": [t.text for t in play.transitions],
        "acts": [a.title for a in play.acts if a.title is not None],
        "title": play.script.title,
        "speeches": [
            {
                "character": s.character,
                "extensions": s.extensions,
                "lines": [line.kind for line in s.lines],
                "dual": s.dual,
            }
            for s in play.dialogue
        ],
    }


@pytest.mark.parametrize("name", DOCUMENTS)
def test_each_document_reads_as_expected_and_comes_back_whole(name: str) -> None:
    expected = EXPECTED[name]
    text = corpus_text(name)
    if "rejected" in expected:
        with pytest.raises(PlayRejected, match=expected["rejected"]):
            parse_play(text)
        return
    play = parse_play(text)
    seen = observed(play, text)
    for key, value in expected.items():
        if key == "speeches":  # each speech is checked on the keys its expectation gives
            assert len(seen[key]) == len(value), f"{name}: speeches ({expected['what']})"
            for number, (want, got) in enumerate(zip(value, seen[key], strict=True), start=1):
                assert {k: got[k] for k in want} == want, f"{name}: speech {number} ({expected['what']})"
        elif key != "what":
            assert seen[key] == value, f"{name}: {key} ({expected['what']})"
    assert render_fountain(stored_and_read_back(play)) == normalise(text)
    # The same text with Windows line endings and a byte-order mark is the same play.
    assert parse_play("\ufeff" + text.replace("\n", "\r\n")) == play


@pytest.mark.parametrize("path", extra_samples())
def test_each_extra_sample_comes_back_whole_or_holds_no_play(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    try:
        play = parse_play(text)
    except PlayRejected as rejected:
        assert "no scene heading" in str(rejected)
        assert not any(t.kind in ("heading", "speech") for t in read(text).tokens)
        return
    assert render_fountain(stored_and_read_back(play)) == normalise(text)
