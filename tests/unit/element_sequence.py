"""A play as the sequence of elements two Fountain readers can be compared on.

Both our reader and screenplain's are projected onto what both model: the title page's
presence, headings (with scene numbers), speeches (name and dual flag), transitions, sections,
synopses, page breaks, action and centered text. Notes are left out (screenplain drops them);
lyrics, which screenplain does not know, are kept so its reading shows as a disagreement.
Texts are compared as a reader sees them: emphasis removed, uppercase, whitespace collapsed.
"""

from __future__ import annotations

import io
from typing import Any

from fountain_saga.play import fountain_syntax

Entry = tuple[Any, ...]


def _norm(text: object) -> str:
    return " ".join(fountain_syntax.plain(str(text)).upper().split())


def ours(text: str) -> list[Entry]:
    reading = fountain_syntax.read(text)
    entries: list[Entry] = [("title_page",)] if reading.title_page else []
    for token in reading.tokens:
        kind = token.kind
        if kind == "heading":
            entries.append(("heading", _norm(token.label), _norm(token.number) if token.number else None))
        elif kind == "speech":
            entries.append(("speech", _norm(token.name), token.dual))
        elif kind == "transition":
            entries.append(("transition", _norm(token.label)))
        elif kind == "section":
            entries.append(("section", token.level, _norm(token.label)))
        elif kind in ("action", "centered", "lyrics", "synopsis", "page_break"):
            entries.append((kind,))
    return entries


def screenplain(text: str) -> list[Entry]:
    from screenplain.parsers import fountain
    from screenplain.types import Action, Dialog, DualDialog, PageBreak, Section, Slug, Transition

    play = fountain.parse(io.StringIO(fountain_syntax.normalise(text)))
    entries: list[Entry] = [("title_page",)] if play.title_page else []
    for paragraph in play.paragraphs:
        if isinstance(paragraph, Slug):
            number = _norm(paragraph.scene_number) if paragraph.scene_number else None
            entries.append(("heading", _norm(paragraph.line), number))
        elif isinstance(paragraph, Dialog):
            entries.append(("speech", _cue_name(paragraph.character), False))
        elif isinstance(paragraph, DualDialog):
            entries.append(("speech", _cue_name(paragraph.left.character), True))
            entries.append(("speech", _cue_name(paragraph.right.character), True))
        elif isinstance(paragraph, Transition):
            entries.append(("transition", _norm(paragraph.line)))
        elif isinstance(paragraph, Section):
            entries.append(("section", paragraph.level, _norm(paragraph.text)))
        elif isinstance(paragraph, Action):
            entries.append(("centered",) if paragraph.centered else ("action",))
        elif isinstance(paragraph, PageBreak):
            entries.append(("page_break",))
        if getattr(paragraph, "synopsis", None):
            entries.append(("synopsis",))
    return entries


def _cue_name(character: object) -> str:
    # screenplain keeps extensions and the dual caret in the cue; the name is what precedes them.
    name = str(character).strip().split("(", 1)[0].strip()
    return _norm(name.removesuffix("^").strip())
