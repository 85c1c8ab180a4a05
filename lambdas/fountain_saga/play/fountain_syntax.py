"""The Fountain 1.1 reader: every rule of how a text is read, in one place.

docs/fountain-reading.md states the rules in prose, with the choices made where the spec is
silent; this module is that document as code, in the same order. It is written by hand because
no library keeps what it reads: screenplain (which agrees with the spec most often) and
fountain-py drop notes and boneyard, rewrite whitespace and emphasis, and run regular
expressions that are quadratic on unclosed ``[[`` and recursive on nested ``/*``. Here every
element keeps the exact span of text it was read from, so the play can be given back byte for
byte, and the work is linear in the text: each scan is a ``str.find`` that moves forward, and
nothing recurses.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import accumulate
from typing import Literal, NamedTuple

TokenKind = Literal[
    "heading",
    "action",
    "speech",
    "transition",
    "centered",
    "lyrics",
    "note",
    "section",
    "synopsis",
    "page_break",
]
LineKind = Literal["dialogue", "parenthetical", "lyrics"]

# A blank line ends a paragraph; two or more spaces keep one going (spec: "two spaces").
_BLANK = ("", " ")
_HEADING_PREFIX = re.compile(r"(?:INT\.?/EXT|INT/EXT|INT|EXT|EST|I/E)[. ]", re.IGNORECASE)
_EXTENSION = re.compile(r"\(([^()]*)\)")
_TITLE_KEY_PUNCTUATION = frozenset(" -_'&")


class SourceLine(NamedTuple):
    """A line as it is classified (boneyard and notes removed) and the span it was read from."""

    text: str
    start: int
    end: int
    noted: bool = False  # a note was removed from it


@dataclass(slots=True)
class SpeechLine:
    kind: LineKind
    start: int
    end: int


@dataclass(slots=True)
class Token:
    """One element of the play and the span of the normalised text it was read from."""

    kind: TokenKind
    start: int
    end: int
    label: str = ""  # the heading, transition, section or synopsis as displayed, marks removed
    level: int = 0  # a section's depth: the number of '#'
    number: str | None = None  # a heading's scene number
    # A speech: the cue's span, the character's name, extensions and lines.
    cue_end: int = 0
    name: str = ""
    extensions: list[str] = field(default_factory=list)
    lines: list[SpeechLine] = field(default_factory=list)
    dual: bool = False


@dataclass(frozen=True, slots=True)
class TitlePage:
    start: int
    end: int
    fields: list[tuple[str, str]]
    # Each field's span (its key line to its last continuation), to rewrite one without the rest.
    spans: list[tuple[int, int]]

    def value(self, key: str) -> str | None:
        wanted = key.casefold()
        return next((v for k, v in self.fields if k.casefold() == wanted), None)


@dataclass(frozen=True, slots=True)
class Reading:
    text: str  # the normalised text every span points into
    title_page: TitlePage | None
    tokens: list[Token]


def normalise(text: str) -> str:
    """The only changes made to a text: line endings become LF and a leading BOM goes."""
    return text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n")


class TooManyLines(ValueError):
    """The text holds more lines than the caller would read."""


def read(text: str, max_lines: int | None = None) -> Reading:
    """Read a Fountain text (normalised first) into its title page and elements.

    With ``max_lines``, a text with more lines than that which are not blank is refused with
    TooManyLines before any is read: what reading costs grows with the lines, so a text of
    nothing but tiny lines is refused before it costs seconds.
    """
    text = normalise(text)
    title_page = None
    tokens: list[Token] = []
    for paragraph in _paragraphs(text, max_lines):
        if not tokens and title_page is None and paragraph[0].start == 0:
            title_page = _title_page(paragraph)
            if title_page:
                continue
        _read_paragraph(paragraph, tokens)
    return Reading(text, title_page, tokens)


# -- boneyard, notes and paragraphs --------------------------------------------------------------
class _Cuts:
    """Positions in a text that had spans cut out of it, mapped back to the text before the cut.

    A span cut at position p belongs to what ends at p (``end``) and to what starts at p
    (``start``), so a boneyard or note at either end of a line stays on that line and the
    lines of a paragraph are separated in the source by exactly one newline.
    """

    def __init__(self, cuts: list[tuple[int, int]]) -> None:
        self._at = [position for position, _ in cuts]
        self._shift = list(accumulate(length for _, length in cuts))

    def start(self, position: int) -> int:
        i = bisect_left(self._at, position)
        return position + (self._shift[i - 1] if i else 0)

    def end(self, position: int) -> int:
        i = bisect_right(self._at, position)
        return position + (self._shift[i - 1] if i else 0)


_NO_CUTS = _Cuts([])


def _cut(text: str, opener: str, closer: str) -> tuple[str, _Cuts]:
    """``text`` without each ``opener``...``closer`` span; an opener never closed stays text."""
    kept: list[str] = []
    cuts: list[tuple[int, int]] = []
    position = kept_length = 0
    while (begin := text.find(opener, position)) >= 0:
        close = text.find(closer, begin + len(opener))
        if close < 0:
            break  # no later opener can close either
        kept.append(text[position:begin])
        kept_length += begin - position
        position = close + len(closer)
        cuts.append((kept_length, position - begin))
    if not cuts:
        return text, _NO_CUTS
    kept.append(text[position:])
    return "".join(kept), _Cuts(cuts)


def _paragraphs(text: str, max_lines: int | None) -> Iterator[list[SourceLine]]:
    """Runs of lines that are not blank, boneyard and notes removed, each line with its span."""
    logical, boneyard = _cut(text, "/*", "*/")
    lines = logical.split("\n")
    if max_lines is not None and len(lines) - lines.count("") - lines.count(" ") > max_lines:
        raise TooManyLines(f"more than {max_lines:,} lines")  # counted at C speed, before any is read
    offset = 0
    run_start = run_end = -1
    for line in lines:
        end = offset + len(line)
        if line not in _BLANK:
            if run_start < 0:
                run_start = offset
            run_end = end
        elif run_start >= 0:
            yield _paragraph(logical, boneyard, run_start, run_end)
            run_start = -1
        offset = end + 1
    if run_start >= 0:
        yield _paragraph(logical, boneyard, run_start, run_end)


def _paragraph(logical: str, boneyard: _Cuts, low: int, high: int) -> list[SourceLine]:
    clean, notes = _cut(logical[low:high], "[[", "]]")
    if notes is _NO_CUTS and boneyard is _NO_CUTS:  # the common case, kept cheap
        lines, offset = [], low
        for text in clean.split("\n"):
            lines.append(SourceLine(text, offset, offset + len(text)))
            offset += len(text) + 1
        return lines
    lines = []
    offset = 0
    for text in clean.split("\n"):
        end = offset + len(text)
        first, last = low + notes.start(offset), low + notes.end(end)
        lines.append(SourceLine(text, boneyard.start(first), boneyard.end(last), last - first != len(text)))
        offset = end + 1
    return lines


# -- the title page -------------------------------------------------------------------------------
def _title_page(paragraph: list[SourceLine]) -> TitlePage | None:
    if _HEADING_PREFIX.match(paragraph[0].text.lstrip()):
        return None  # "INT HOUSE - 3:00" is a heading with a clock time, not a key and a value
    fields: list[tuple[str, list[str]]] = []
    spans: list[list[int]] = []
    for line in paragraph:
        text = line.text
        if text.startswith(("\t", "   ")):  # a continuation of the key above
            if not fields:
                return None
            if text.strip():
                fields[-1][1].append(text.strip())
            spans[-1][1] = line.end
            continue
        key, colon, value = text.partition(":")
        if not colon or not _is_title_key(key):
            return None
        fields.append((key, [value.strip()] if value.strip() else []))
        spans.append([line.start, line.end])
    if not any(values for _, values in fields):
        return None  # a lone "FADE IN:" is a transition-like line, not a title page
    return TitlePage(
        start=paragraph[0].start,
        end=paragraph[-1].end,
        fields=[(key, "\n".join(values)) for key, values in fields],
        spans=[(a, b) for a, b in spans],
    )


def _is_title_key(key: str) -> bool:
    return (
        bool(key) and not key[0].isspace() and all(ch.isalnum() or ch in _TITLE_KEY_PUNCTUATION for ch in key)
    )


# -- paragraphs ----------------------------------------------------------------------------------
def _read_paragraph(lines: list[SourceLine], tokens: list[Token]) -> None:
    # 1. Sections, synopses and page breaks at the top of a paragraph stand alone.
    top = 0
    for line in lines:
        stripped = line.text.strip()
        if stripped[:1] not in ("=", "#"):
            break
        if _is_page_break(stripped):
            tokens.append(Token("page_break", line.start, line.end))
        elif stripped.startswith("="):
            tokens.append(Token("synopsis", line.start, line.end, label=stripped[1:].strip()))
        else:
            level = len(stripped) - len(stripped.lstrip("#"))
            tokens.append(Token("section", line.start, line.end, label=stripped[level:].strip(), level=level))
        top += 1
    lines = lines[top:]
    if not any(line.text.strip() for line in lines):
        # 2. Only notes; whitespace without a note is spacing between elements, not an element.
        if any(line.noted for line in lines):
            tokens.append(Token("note", lines[0].start, lines[-1].end))
        return
    tokens.append(_paragraph_token(lines, tokens[-1] if tokens else None))


def _paragraph_token(lines: list[SourceLine], previous: Token | None) -> Token:
    start, end = lines[0].start, lines[-1].end
    texts = [line.text.strip() for line in lines]
    first = texts[0]
    if first.startswith("!"):  # 3. forced action
        return Token("action", start, end)
    if all(_is_centered(t) for t in texts):  # 4.
        return Token("centered", start, end)
    if all(t.startswith("~") for t in texts):  # 5.
        return Token("lyrics", start, end)
    if len(lines) == 1:  # 6.
        return _single_line(lines[0].text, start, end)
    speech = _speech(lines, previous)  # 7.
    if speech:
        return speech
    return Token("action", start, end)  # 8.


# What a single line must start with to be anything but action (headings: INT, EXT, EST, I/E).
_SINGLE_LINE_MARKS = frozenset(".>IiEe")


def _single_line(line: str, start: int, end: int) -> Token:
    text = line.strip()
    if text[:1] not in _SINGLE_LINE_MARKS and not line.endswith("TO:"):
        return Token("action", start, end)  # most lines of action: no rule below can match
    if text.startswith(".") and len(text) > 1 and text[1].isalnum():
        return _heading(text[1:], start, end)
    if _HEADING_PREFIX.match(text):
        return _heading(text, start, end)
    if text.startswith(">"):
        return Token("transition", start, end, label=text[1:].strip())
    # Trailing spaces count: "CUT TO:  " does not end in "TO:" (the reference implementation's reading).
    unindented = line.lstrip()
    if unindented.endswith("TO:") and unindented[:-3].isupper():
        return Token("transition", start, end, label=text)
    return Token("action", start, end)


def _heading(text: str, start: int, end: int) -> Token:
    label, number = text.strip(), None
    if label.endswith("#"):
        mark = label.rfind("#", 0, len(label) - 1)
        candidate = label[mark + 1 : -1]
        if mark >= 0 and candidate and all(ch.isalnum() or ch in "-." for ch in candidate):
            label, number = label[:mark].rstrip(), candidate
    return Token("heading", start, end, label=label, number=number)


def _speech(lines: list[SourceLine], previous: Token | None) -> Token | None:
    cue = lines[0].text.strip()
    forced = cue.startswith("@")
    body = cue[1:] if forced else cue
    caret = body.endswith("^")
    if caret:
        body = body[:-1].rstrip()
    name, paren, rest = body.partition("(")
    name = name.strip()
    if not name or not (forced or name.isupper()):
        return None
    dual = caret and previous is not None and previous.kind == "speech" and not previous.dual
    if dual and previous is not None:
        previous.dual = True
    return Token(
        "speech",
        lines[0].start,
        lines[-1].end,
        cue_end=lines[0].end,
        name=name,
        extensions=[e.strip() for e in _EXTENSION.findall(paren + rest) if e.strip()],
        lines=[SpeechLine(_speech_line_kind(line.text.strip()), line.start, line.end) for line in lines[1:]],
        dual=dual,
    )


def _speech_line_kind(text: str) -> LineKind:
    if text.startswith("(") and text.endswith(")"):
        return "parenthetical"
    if text.startswith("~"):
        return "lyrics"
    return "dialogue"


def _is_page_break(text: str) -> bool:
    return len(text) >= 3 and text.strip("=") == ""


def _is_centered(text: str) -> bool:
    return len(text) >= 2 and text.startswith(">") and text.endswith("<")


# -- plain text ----------------------------------------------------------------------------------
_MARKERS = ("***", "**", "*", "_")


def plain(text: str) -> str:
    """Text as a reader sees it: emphasis markers that pair up on a line removed, escapes undone.

    Used for the title and for names. Markers nest: a marker right after an opener opens too,
    otherwise one of a kind already open closes the nearest opener of that kind, and openers it
    passes over stay as text. One pass per line with a stack, each marker pushed and popped
    once, so deep or unbalanced nesting costs no more than plain text.
    """
    return "\n".join(_plain_line(line) for line in text.split("\n"))


def _plain_line(line: str) -> str:
    if "*" not in line and "_" not in line and "\\" not in line:
        return line
    pieces: list[str] = []
    stack: list[tuple[str, int]] = []  # open markers and where they stand in pieces
    open_count = dict.fromkeys(_MARKERS, 0)
    opening = False  # the last thing read was an opener
    i = 0
    while i < len(line):
        ch = line[i]
        if ch == "\\" and i + 1 < len(line) and line[i + 1] in "*_\\":
            pieces.append(line[i + 1])
            i += 2
            continue
        marker = next((m for m in _MARKERS if line.startswith(m, i)), None) if ch in "*_" else None
        if marker is None:
            pieces.append(ch)
            opening = False
        elif open_count[marker] and not opening:
            while True:  # close the nearest opener of this kind; those above it stay text
                opened, index = stack.pop()
                open_count[opened] -= 1
                if opened == marker:
                    pieces[index] = ""
                    break
        else:
            stack.append((marker, len(pieces)))
            open_count[marker] += 1
            pieces.append(marker)
            opening = True
        i += len(marker) if marker else 1
    return "".join(pieces)


def escape_plain(text: str) -> str:
    """``text`` written so that ``plain`` reads it back unchanged."""
    return text.replace("\\", "\\\\").replace("*", "\\*").replace("_", "\\_")
