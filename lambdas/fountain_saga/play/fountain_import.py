"""Fountain text in, a PlayDocument out.

fountain-py does the tokenising; this module is the seam that keeps it replaceable, and it
corrects what the library gets wrong for us: several cue extensions (``(V.O.) (CONT'D)``) are
read from the source line, and the emphasis the library strips is put back as markup so the
play can be rebuilt as it was written.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from fountain import ElementType, FountainElement, FountainParser

from fountain_saga.play.document import (
    Act,
    Character,
    Element,
    ElementKind,
    Line,
    LineKind,
    PlayDocument,
    Scene,
    Script,
    Speech,
    Transition,
)

MAX_TEXT_CHARS = 2 * 1024 * 1024
# A scene (with its action and notes) is one DynamoDB item, and items stop at 400 KB.
MAX_ELEMENT_CHARS = 64 * 1024
MAX_SCENE_CHARS = 300 * 1024
MAX_TITLE_CHARS = 256
# Each entity kind becomes that many rows in one step; 10,000 is nine Hamlets of speeches and
# keeps a step well inside its Lambda timeout.
MAX_ENTITIES_PER_KIND = 10_000

_EXTENSION = re.compile(r"\(([^()]*)\)")
_MARKERS = {"bold": "**", "italic": "*", "underline": "_", "bold_italic": "***"}
_EMPHASIS = re.compile(r"(\*{1,3}|_)")


class PlayRejected(ValueError):
    """The text cannot become a play; the message says why in words a writer can act on."""


@dataclass
class _Cue:
    name: str
    extensions: list[str]


@dataclass
class _Builder:
    source_lines: list[str]
    acts: list[Act] = field(default_factory=list)
    scenes: list[Scene] = field(default_factory=list)
    speeches: list[Speech] = field(default_factory=list)
    transitions: list[Transition] = field(default_factory=list)
    characters: dict[str, Character] = field(default_factory=dict)
    script_preamble: list[Element] = field(default_factory=list)
    headings: int = 0
    cursor: int = 0  # the position of the last element placed in the current scene

    # -- structure -------------------------------------------------------------------------------
    def current_act(self) -> Act:
        if not self.acts:
            self.acts.append(Act(seq=0, title=None))
        return self.acts[-1]

    def start_act(self, title: str) -> None:
        self.acts.append(Act(seq=len(self.acts), title=title))

    def start_scene(self, heading: str | None, number: str | None = None, forced: bool = False) -> Scene:
        act = self.current_act()
        scene = Scene(seq=len(self.scenes), act_seq=act.seq, heading=heading, number=number, forced=forced)
        self.scenes.append(scene)
        self.cursor = 0
        return scene

    def current_scene(self) -> Scene:
        """The scene content belongs to; content before an act's first heading opens an implicit one."""
        act = self.current_act()
        if self.scenes and self.scenes[-1].act_seq == act.seq:
            return self.scenes[-1]
        return self.start_scene(None)

    def next_position(self) -> int:
        self.cursor += 1
        return self.cursor

    # -- content ---------------------------------------------------------------------------------
    def add_element(self, kind: ElementKind, text: str, *, level: int = 0, forced: bool = False) -> None:
        _check_size(text)
        scene = self.current_scene()
        scene.elements.append(Element(kind, text, self.next_position(), level, forced))

    def add_marginal(self, kind: ElementKind, text: str, *, level: int = 0) -> None:
        """Notes, sections and synopses don't open a scene: they stay where they stand."""
        _check_size(text)
        if not self.acts:
            self.script_preamble.append(Element(kind, text, len(self.script_preamble), level))
            return
        act = self.acts[-1]
        if self.scenes and self.scenes[-1].act_seq == act.seq:
            self.scenes[-1].elements.append(Element(kind, text, self.next_position(), level))
        else:
            act.preamble.append(Element(kind, text, len(act.preamble), level))

    def add_transition(self, text: str, forced: bool) -> None:
        scene = self.current_scene()
        self.transitions.append(
            Transition(len(self.transitions), scene.seq, self.next_position(), text, forced)
        )

    def add_speech(self, cue: FountainElement, lines: Iterable[FountainElement], dual: bool) -> None:
        scene = self.current_scene()
        parsed = self._read_cue(cue)
        name = parsed.name.upper()
        if not name:
            raise PlayRejected(f"line {cue.line_number}: a character cue has no name")
        if name not in self.characters:
            self.characters[name] = Character(len(self.characters), name)
        speech_lines = [Line(_line_kind(el), _with_markup(el)) for el in lines]
        for line in speech_lines:
            _check_size(line.text)
        self.speeches.append(
            Speech(
                seq=len(self.speeches),
                scene_seq=scene.seq,
                position=self.next_position(),
                character=name,
                cue=parsed.name,
                extensions=parsed.extensions,
                lines=speech_lines,
                dual=dual,
                forced=bool(cue.metadata.get("forced")),
            )
        )

    def _read_cue(self, cue: FountainElement) -> _Cue:
        # The library folds "(V.O.) (CONT'D)" into one mangled extension; the source line has it right.
        raw = ""
        if 0 < cue.line_number <= len(self.source_lines):
            raw = self.source_lines[cue.line_number - 1].strip()
        raw = raw.removeprefix("@").removesuffix("^").strip()
        name = raw.split("(", 1)[0].strip()
        if not raw or name.upper() != cue.text.strip().upper():
            extension = cue.metadata.get("extension")
            return _Cue(cue.text.strip(), [extension] if isinstance(extension, str) and extension else [])
        return _Cue(name, [e.strip() for e in _EXTENSION.findall(raw[len(name) :]) if e.strip()])


def parse_play(text: str, title: str | None = None) -> PlayDocument:
    """Parse Fountain text into a play; raise PlayRejected when it holds no play."""
    if len(text) > MAX_TEXT_CHARS:
        raise PlayRejected(f"the play is {len(text):,} characters long; the limit is {MAX_TEXT_CHARS:,}")
    if "\x00" in text:
        raise PlayRejected("the text contains NUL characters: it looks like a binary file, not Fountain")
    text = text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    if title is not None:
        title = _clean_title(title)
        if not title:
            raise PlayRejected("title is empty")
    document = FountainParser().parse(text)
    builder = _Builder(source_lines=text.split("\n"))
    for element in document.elements:
        _consume(builder, element)
    _demote_orphan_cues(builder)
    if builder.headings == 0 and not builder.speeches:
        raise PlayRejected(
            "the text has no scene heading (INT./EXT. ...) and no dialogue (a CHARACTER cue followed "
            "by a line): there is no play to store"
        )
    sizes = {
        "acts": len(builder.acts),
        "scenes": len(builder.scenes),
        "characters": len(builder.characters),
        "speeches": len(builder.speeches),
        "transitions": len(builder.transitions),
    }
    for kind, size in sizes.items():
        if size > MAX_ENTITIES_PER_KIND:
            raise PlayRejected(f"the play has {size:,} {kind}; the limit is {MAX_ENTITIES_PER_KIND:,}")
    for scene in builder.scenes:
        size = sum(len(e.text) for e in scene.elements)
        if size > MAX_SCENE_CHARS:
            where = f"scene {scene.heading!r}" if scene.heading else f"scene {scene.seq + 1}"
            raise PlayRejected(
                f"{where} holds {size:,} characters of action and notes; the limit is {MAX_SCENE_CHARS:,}"
            )
    title_page = [(key, str(value)) for key, value in document.metadata.items()]
    page_title = dict(title_page).get("title")
    final_title = title or (_clean_title(page_title) if page_title else "") or "Untitled"
    if len(final_title) > MAX_TITLE_CHARS:
        raise PlayRejected(
            f"the title is {len(final_title):,} characters long; the limit is {MAX_TITLE_CHARS}"
        )
    return PlayDocument(
        script=Script(title=final_title, title_page=title_page, preamble=builder.script_preamble),
        acts=builder.acts,
        scenes=builder.scenes,
        characters=list(builder.characters.values()),
        dialogue=builder.speeches,
        transitions=builder.transitions,
    )


def _consume(builder: _Builder, el: FountainElement) -> None:
    kind = el.type
    if kind is ElementType.SECTION and el.metadata.get("level") == 1:
        builder.start_act(_with_markup(el))
    elif kind is ElementType.SECTION:
        level = el.metadata.get("level")
        builder.add_marginal("section", _with_markup(el), level=level if isinstance(level, int) else 2)
    elif kind is ElementType.SCENE_HEADING:
        number = el.metadata.get("scene_number")
        builder.headings += 1
        builder.start_scene(
            _with_markup(el), number if isinstance(number, str) else None, bool(el.metadata.get("forced"))
        )
    elif kind is ElementType.CHARACTER:
        # The cue opens a speech; the dialogue and parenthetical elements after it fill it.
        builder.add_speech(el, [], dual=False)
    elif kind in (ElementType.DIALOGUE, ElementType.PARENTHETICAL) or (
        kind is ElementType.LYRICS and _last_is_open_speech(builder)
    ):
        _append_line(builder, el)
    elif kind is ElementType.DUAL_DIALOGUE:
        left, right = el.dual_dialogue_columns()
        builder.add_speech(left[0], left[1:], dual=True)
        builder.add_speech(right[0], right[1:], dual=True)
    elif kind is ElementType.TRANSITION:
        builder.add_transition(_with_markup(el), bool(el.metadata.get("forced")))
    elif kind is ElementType.ACTION and el.text.strip():
        builder.add_element("action", _with_markup(el), forced=bool(el.metadata.get("forced")))
    elif kind is ElementType.CENTERED:
        builder.add_element("centered", _with_markup(el))
    elif kind is ElementType.LYRICS:
        builder.add_element("lyrics", _with_markup(el))
    elif kind is ElementType.NOTE and _last_is_open_speech(builder):
        builder.speeches[-1].lines.append(Line("note", el.text))  # a note inside a speech stays there
    elif kind is ElementType.NOTE:
        builder.add_marginal("note", el.text)
    elif kind is ElementType.SYNOPSIS:
        builder.add_marginal("synopsis", _with_markup(el))
    elif kind is ElementType.PAGE_BREAK:
        builder.add_marginal("page_break", "")
    # BONEYARD and the title page carry nothing to store.


def _demote_orphan_cues(builder: _Builder) -> None:
    """A cue with no line after it is not a speech (fountain-py emits one): keep it as action.

    Blank lines at either end of a speech carry nothing and cannot be written back as part of
    it, so they go first.
    """
    for speech in builder.speeches:
        lines = speech.lines
        while lines and lines[0].kind == "dialogue" and not lines[0].text.strip():
            lines.pop(0)
        while lines and lines[-1].kind == "dialogue" and not lines[-1].text.strip():
            lines.pop()
    orphans = [s for s in builder.speeches if not s.lines]
    if not orphans:
        return
    for orphan in orphans:
        text = orphan.cue + "".join(f" ({e})" for e in orphan.extensions)
        elements = builder.scenes[orphan.scene_seq].elements
        elements.append(Element("action", text, orphan.position, forced=orphan.forced))
        elements.sort(key=lambda e: e.position)
    kept = [s for s in builder.speeches if s.lines]
    builder.speeches = [dataclasses.replace(s, seq=i) for i, s in enumerate(kept)]
    names = dict.fromkeys(s.character for s in builder.speeches)
    builder.characters = {name: Character(i, name) for i, name in enumerate(names)}


def _last_is_open_speech(builder: _Builder) -> bool:
    scene = builder.scenes[-1] if builder.scenes else None
    if not builder.speeches or scene is None:
        return False
    last = builder.speeches[-1]
    return last.scene_seq == scene.seq and not last.dual and last.position == builder.cursor


def _append_line(builder: _Builder, el: FountainElement) -> None:
    if _last_is_open_speech(builder):
        builder.speeches[-1].lines.append(Line(_line_kind(el), _with_markup(el)))
        _check_size(el.text)
    else:
        builder.add_element("action", _with_markup(el))


def _line_kind(el: FountainElement) -> LineKind:
    if el.type is ElementType.PARENTHETICAL:
        return "parenthetical"
    if el.type is ElementType.LYRICS:
        return "lyrics"
    return "dialogue"


def _with_markup(el: FountainElement) -> str:
    """The element's text with its emphasis written back as Fountain markup."""
    if not el.formatting:
        return el.text
    events: list[tuple[int, int, int, str]] = []
    for span in el.formatting:
        marker = _MARKERS[span.format_type]
        width = span.end - span.start
        # At one position closers go before openers; outer spans open first and close last.
        events.append((span.start, 1, -width, marker))
        events.append((span.end, 0, width, marker))
    events.sort()
    out: list[str] = []
    cursor = 0
    for position, _, _, marker in events:
        out.append(el.text[cursor:position])
        out.append(marker)
        cursor = position
    out.append(el.text[cursor:])
    return "".join(out)


def _clean_title(raw: str) -> str:
    return " ".join(_EMPHASIS.sub("", raw).split())


def _check_size(text: str) -> None:
    if len(text) > MAX_ELEMENT_CHARS:
        raise PlayRejected(
            f"an element of {len(text):,} characters starting {text[:40]!r} is longer than the "
            f"{MAX_ELEMENT_CHARS:,} a single line or paragraph may hold"
        )
