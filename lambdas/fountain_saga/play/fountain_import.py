"""Fountain text in, a PlayDocument out.

``fountain_syntax`` reads the text into elements; this module gives them their place among the
six entities (acts, scenes, characters, speeches, transitions, and the script that holds the
title page and whatever stands before the first act). Each part keeps the exact text it came
from and the text before it, so the document holds the whole play.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from fountain_saga.play import fountain_syntax
from fountain_saga.play.document import (
    Act,
    Character,
    Element,
    ElementKind,
    Line,
    PlayDocument,
    Scene,
    Script,
    Speech,
    Transition,
)
from fountain_saga.play.fountain_syntax import Reading, TitlePage, Token

MAX_TEXT_BYTES = 2 * 1024 * 1024
MAX_TITLE_CHARS = 256
# Each entity kind becomes that many rows in one step; 10,000 is nine Hamlets of speeches and
# keeps a step well inside its Lambda timeout.
MAX_ENTITIES_PER_KIND = 10_000
UNTITLED = "Untitled"
# A title as written may carry emphasis markers and escapes around its 256 characters; one much
# longer is refused before its markup is read.
_MAX_WRITTEN_TITLE_CHARS = 4 * MAX_TITLE_CHARS
# Markers that would change how the rest of the text reads if a requested title carried them.
_TITLE_FORBIDDEN = ("/*", "*/", "[[", "]]")


# Lines that are not blank. A play of 2 MiB, the largest accepted, has about 40,000 (Big Fish,
# 0.2 MB, has 2,776); reading costs time per line, so a text of nothing but tiny lines is
# refused once it passes this many, before it costs the intake seconds.
MAX_LINES = 100_000


class PlayRejected(ValueError):
    """The text cannot become a play; the message says why in words a writer can act on."""

    code = "invalid_play"


class PlayTooLarge(PlayRejected):
    """The play, or a part of it, is bigger than the saga can store."""

    code = "play_too_large"


@dataclass
class _Builder:
    reading: Reading
    acts: list[Act] = field(default_factory=list)
    scenes: list[Scene] = field(default_factory=list)
    speeches: list[Speech] = field(default_factory=list)
    transitions: list[Transition] = field(default_factory=list)
    characters: dict[str, Character] = field(default_factory=dict)
    script_preamble: list[Element] = field(default_factory=list)
    headings: int = 0
    cursor: int = 0  # the position of the last element placed in the current scene
    consumed: int = 0  # where the text placed so far ends

    def take(self, token: Token) -> tuple[str, str]:
        """The text between the last part and this token, and the token's own text."""
        text = self.reading.text
        gap, source = text[self.consumed : token.start], text[token.start : token.end]
        self.consumed = token.end
        return gap, source

    # -- structure -------------------------------------------------------------------------------
    def current_act(self) -> Act:
        if not self.acts:
            self.acts.append(Act(seq=0, title=None))
        return self.acts[-1]

    def start_act(self, token: Token) -> None:
        gap, source = self.take(token)
        self.acts.append(Act(seq=len(self.acts), title=token.label, source=source, gap=gap))

    def start_scene(self, token: Token | None) -> Scene:
        act = self.current_act()
        if token is None:
            scene = Scene(seq=len(self.scenes), act_seq=act.seq, heading=None)
        else:
            gap, source = self.take(token)
            self.headings += 1
            scene = Scene(len(self.scenes), act.seq, token.label, token.number, source, gap)
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
    def add_element(self, kind: ElementKind, token: Token) -> None:
        scene = self.current_scene()
        gap, source = self.take(token)
        scene.elements.append(Element(kind, source, self.next_position(), gap, token.level))

    def add_marginal(self, kind: ElementKind, token: Token) -> None:
        """Notes, sections, synopses and page breaks don't open a scene: they stay where they stand."""
        if not self.acts:
            gap, source = self.take(token)
            self.script_preamble.append(Element(kind, source, len(self.script_preamble), gap, token.level))
            return
        act = self.acts[-1]
        if self.scenes and self.scenes[-1].act_seq == act.seq:
            gap, source = self.take(token)
            self.scenes[-1].elements.append(Element(kind, source, self.next_position(), gap, token.level))
        else:
            gap, source = self.take(token)
            act.preamble.append(Element(kind, source, len(act.preamble), gap, token.level))

    def add_transition(self, token: Token) -> None:
        scene = self.current_scene()
        gap, source = self.take(token)
        self.transitions.append(
            Transition(len(self.transitions), scene.seq, self.next_position(), token.label, source, gap)
        )

    def add_speech(self, token: Token) -> None:
        scene = self.current_scene()
        gap, _ = self.take(token)
        text = self.reading.text
        name = token.name.upper()
        if name not in self.characters:
            self.characters[name] = Character(len(self.characters), name)
        self.speeches.append(
            Speech(
                seq=len(self.speeches),
                scene_seq=scene.seq,
                position=self.next_position(),
                character=name,
                cue=text[token.start : token.cue_end],
                extensions=token.extensions,
                lines=[Line(line.kind, text[line.start : line.end]) for line in token.lines],
                dual=token.dual,
                gap=gap,
            )
        )


_MARGINAL: dict[str, ElementKind] = {
    "note": "note",
    "section": "section",
    "synopsis": "synopsis",
    "page_break": "page_break",
}
_SCENE_CONTENT: dict[str, ElementKind] = {"action": "action", "centered": "centered", "lyrics": "lyrics"}


def parse_play(text: str, title: str | None = None) -> PlayDocument:
    """Parse Fountain text into a play; raise PlayRejected when it holds no play."""
    size = len(_utf8(text, "the text"))
    if size > MAX_TEXT_BYTES:
        raise PlayTooLarge(f"the play is {size:,} bytes long; the limit is {MAX_TEXT_BYTES:,} bytes")
    if "\x00" in text:
        raise PlayRejected("the text contains NUL characters: it looks like a binary file, not Fountain")
    if title is not None:
        title = _requested_title(title)
    try:
        reading = fountain_syntax.read(text, MAX_LINES)
    except fountain_syntax.TooManyLines:
        raise PlayTooLarge(
            f"the play has more than {MAX_LINES:,} lines that are not blank; the limit is {MAX_LINES:,}"
        ) from None
    builder = _Builder(reading, consumed=reading.title_page.end if reading.title_page else 0)
    for token in reading.tokens:
        _place(builder, token)
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
    for kind, count in sizes.items():
        if count > MAX_ENTITIES_PER_KIND:
            raise PlayTooLarge(f"the play has {count:,} {kind}; the limit is {MAX_ENTITIES_PER_KIND:,}")
    return PlayDocument(
        script=_script(reading, title, builder),
        acts=builder.acts,
        scenes=builder.scenes,
        characters=list(builder.characters.values()),
        dialogue=builder.speeches,
        transitions=builder.transitions,
    )


def _place(builder: _Builder, token: Token) -> None:
    kind = token.kind
    if kind == "section" and token.level == 1:
        builder.start_act(token)
    elif kind == "heading":
        builder.start_scene(token)
    elif kind == "speech":
        builder.add_speech(token)
    elif kind == "transition":
        builder.add_transition(token)
    elif kind in _MARGINAL:
        builder.add_marginal(_MARGINAL[kind], token)
    else:
        builder.add_element(_SCENE_CONTENT[kind], token)


def _script(reading: Reading, requested: str | None, builder: _Builder) -> Script:
    page = reading.title_page
    fields = list(page.fields) if page else []
    source = reading.text[page.start : page.end] if page else None
    if requested is not None:
        source, fields = _with_title(reading, page, requested)
        title = requested
    else:
        written = page.value("title") if page else None
        if written and len(written) > _MAX_WRITTEN_TITLE_CHARS:
            raise PlayRejected(
                f"the title page's title is {len(written):,} characters long; the limit is {MAX_TITLE_CHARS}"
            )
        title = _clean_title(written) if written else ""
        title = title or UNTITLED
        if len(title) > MAX_TITLE_CHARS:
            raise PlayRejected(
                f"the title page's title is {len(title):,} characters long; the limit is {MAX_TITLE_CHARS}"
            )
    return Script(
        title=title,
        title_page=fields,
        title_source=source,
        preamble=builder.script_preamble,
        tail=reading.text[builder.consumed :],
    )


def _with_title(reading: Reading, page: TitlePage | None, title: str) -> tuple[str, list[tuple[str, str]]]:
    """The title page with the requested title written in, and its fields."""
    value = fountain_syntax.escape_plain(title)
    if page is None:
        return f"Title: {value}\n\n", [("Title", title)]
    text = reading.text
    index = next((i for i, (key, _) in enumerate(page.fields) if key.casefold() == "title"), None)
    if index is None:
        return f"Title: {value}\n" + text[page.start : page.end], [("Title", title), *page.fields]
    key = page.fields[index][0]
    start, end = page.spans[index]
    fields = list(page.fields)
    fields[index] = (key, title)
    return text[page.start : start] + f"{key}: {value}" + text[end : page.end], fields


def _utf8(text: str, what: str) -> bytes:
    # JSON can smuggle in a lone surrogate ("\ud800"), which no table or file can store.
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as error:
        raise PlayRejected(
            f"{what} holds U+{ord(text[error.start]):04X} at character {error.start:,}, half of a "
            "surrogate pair and not a character; send the text as valid Unicode"
        ) from None


def _requested_title(raw: str) -> str:
    _utf8(raw, "the title")
    title = " ".join(raw.split())
    if not title:
        raise PlayRejected("title is empty")
    if len(title) > MAX_TITLE_CHARS:
        raise PlayRejected(f"the title is {len(title):,} characters long; the limit is {MAX_TITLE_CHARS}")
    marker = next((m for m in _TITLE_FORBIDDEN if m in title), None)
    if marker:
        raise PlayRejected(
            f"the title contains {marker!r}, which Fountain reads as the start or end of a note or "
            "comment; leave it out"
        )
    return title


def _clean_title(raw: str) -> str:
    return " ".join(fountain_syntax.plain(raw).split())
