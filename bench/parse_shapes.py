"""Parsing's worst cases: hostile texts of the largest size the intake reads, timed through its checks.

What is timed is ``intake.prepare_play``: everything the API does to a text before a play exists
(the reader, the document, the check that every row fits a DynamoDB item, the staged JSON).
A hostile text may be refused (``PlayRejected``, with its code) or accepted; either is a fine
outcome, and which one it was is recorded. Anything else raised is a bug the benchmark must not
hide. Each shape starts with a scene heading, so every one of them is a play to the reader.

The shapes are the reader's known soft spots (``fountain_syntax``): unclosed notes and boneyard,
runs of emphasis markers, lines by the hundred thousand (the reader's cost grows with lines up to
``MAX_LINES``), and names, the one place emphasis is undone character by character in Python.
"""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bench.measure import BenchFailure
from fountain_saga.play.fountain_import import MAX_ENTITIES_PER_KIND, PlayRejected
from fountain_saga.saga.intake import prepare_play

SHAPE_BYTES = 2 * 1024 * 1024  # the intake's size limit: the largest text that reaches the reader
RUNS = 3
PREFIX = "INT. X - DAY\n\n"
ACCEPTED = "accepted"
BLANK_LINES = 100_000
# A speech's cue and line need this much at least; below it, fewer speeches fill the text.
_MIN_SPEECH_BYTES = 64
_SPEECH_TAIL = "\nhi\n\n"

# A shape gives the text after the prefix, ``room`` bytes of it (all ASCII, so characters are bytes).
Builder = Callable[[int], str]


@dataclass(frozen=True)
class Shape:
    name: str
    build: Builder


def _repeated(unit: str, head: str = "", tail: str = "") -> Builder:
    def build(room: int) -> str:
        count, rest = divmod(room - len(head) - len(tail), len(unit))
        return head + unit * count + unit[:rest] + tail

    return build


def _blank_lines_then_a_speech(room: int) -> str:
    speech = "BOB\nHi.\n"
    return "\n" * min(BLANK_LINES, room - len(speech)) + speech


def _nested(head: str, middle: str, tail: str) -> Builder:
    """``"*_" * n + middle + "_*" * n`` between head and tail; the middle grows to fill what is left."""

    def build(room: int) -> str:
        n, rest = divmod(room - len(head) - len(middle) - len(tail), 4)
        return head + "*_" * n + middle + middle[-1] * rest + "_*" * n + tail

    return build


def _speeches_with_nested_cues(room: int) -> str:
    """As many speeches as a play may hold, their cues marked up so that each reads as one name."""
    unit = max(room // MAX_ENTITIES_PER_KIND, _MIN_SPEECH_BYTES)
    count = min(MAX_ENTITIES_PER_KIND, room // unit)
    cue = _nested("", "B", "")(unit - len(_SPEECH_TAIL))
    rest = room - count * unit
    # What does not divide evenly lengthens the last line, so every cue names the same character.
    return (cue + _SPEECH_TAIL) * (count - 1) + cue + "\nh" + "i" * (1 + rest) + "\n\n"


SHAPES: tuple[Shape, ...] = (
    Shape("[[ repeated", _repeated("[[")),
    Shape("/* repeated", _repeated("/*")),
    Shape("* repeated", _repeated("*")),
    Shape("_ repeated", _repeated("_")),
    Shape("\\ repeated", _repeated("\\")),
    Shape(f"{BLANK_LINES:,} blank lines, then a speech", _blank_lines_then_a_speech),
    Shape("one line", _repeated("x")),
    Shape('deep emphasis nesting ("*_" * n + "x" + "_*" * n)', _nested("", "x", "")),
    Shape('tiny paragraphs ("a\\n\\n" repeated)', _repeated("a\n\n")),
    Shape('"x\\n/**/\\n" repeated', _repeated("x\n/**/\n")),
    Shape('tiny speeches ("BOB\\nhi\\n\\n" repeated)', _repeated("BOB\nhi\n\n")),
    Shape('one huge speech ("BOB\\n" + "  \\n" repeated)', _repeated("  \n", head="BOB\n")),
    Shape('a speech of notes ("BOB\\n" + "[[a]]\\n" repeated)', _repeated("[[a]]\n", head="BOB\n")),
    Shape('"a /*\\n\\n*/ " repeated', _repeated("a /*\n\n*/ ")),
    # Found reading fountain_syntax: a cue's name goes through plain(), a loop in Python over
    # every character once the name holds a marker; the headings pay for the boneyard's bisects.
    Shape(
        'one cue of emphasis markers ("B" + "_" * n, then a line)', _repeated("_", head="B", tail="\nhi\n")
    ),
    Shape('one cue of deep nesting ("*_" * n + "B" + "_*" * n, then a line)', _nested("", "B", "\nhi\n")),
    Shape("speeches of nested-emphasis cues, as many as a play may hold", _speeches_with_nested_cues),
    Shape('headings between boneyard ("INT. A\\n/**/\\n" repeated)', _repeated("INT. A\n/**/\n")),
)


def shape_text(shape: Shape, size: int = SHAPE_BYTES) -> str:
    return PREFIX + shape.build(size - len(PREFIX))


@dataclass
class ParseResult:
    shape: str
    text_bytes: int
    outcome: str  # ACCEPTED, or the PlayRejected's code
    detail: str  # the refusal's message, shortened
    seconds: list[float]

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)

    @property
    def slowest(self) -> float:
        return max(self.seconds)

    def to_json(self) -> dict[str, Any]:
        return dict(vars(self))

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> ParseResult:
        return cls(**raw)


def warm_up() -> None:
    """Pay the imports' and the encoders' first-use costs before anything is timed."""
    prepare_play(PREFIX + "BOB\nHi.\n")


def measure_shape(shape: Shape, size: int, runs: int) -> ParseResult:
    text = shape_text(shape, size)
    seconds: list[float] = []
    outcomes: set[tuple[str, str]] = set()
    for _ in range(runs):
        gc.collect()
        started = time.perf_counter()
        try:
            prepare_play(text)
            outcome = (ACCEPTED, "")
        except PlayRejected as rejected:
            outcome = (rejected.code, str(rejected))
        except Exception as error:
            raise BenchFailure(
                f"{shape.name}: prepare_play raised {type(error).__name__}: {error}"
            ) from error
        seconds.append(time.perf_counter() - started)
        outcomes.add(outcome)
    if len(outcomes) != 1:
        raise BenchFailure(f"{shape.name}: the same text had different outcomes: {sorted(outcomes)}")
    ((code, message),) = outcomes
    detail = message if len(message) <= 160 else message[:157] + "..."
    return ParseResult(shape.name, len(text.encode()), code, detail, seconds)


def measure_parse_shapes(
    size: int = SHAPE_BYTES, runs: int = RUNS, shapes: tuple[Shape, ...] = SHAPES
) -> list[ParseResult]:
    warm_up()
    return [measure_shape(shape, size, runs) for shape in shapes]
