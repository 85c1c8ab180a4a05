"""The play document: what a Fountain text becomes before the saga stores it.

Each entity's list is in the order of the text, and ``seq`` is its position in that list, so a
row's key (play id, seq) is a pure function of the text: writing the same play twice writes the
same keys. ``position`` places speeches, transitions and other elements inside their scene.

Every part keeps the text it was read from exactly as written (``text``, ``cue``, ``source``)
and the text that stood between it and the part before (``gap``: blank lines, boneyard), so
the six tables together hold every character of the play and ``fountain_export`` can give it
back byte for byte. What the reader derived (names, headings, numbers, levels) sits beside it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

LineKind = Literal["dialogue", "parenthetical", "lyrics"]
ElementKind = Literal["action", "centered", "lyrics", "note", "section", "synopsis", "page_break"]
ENTITY_KINDS = ("script", "acts", "scenes", "characters", "dialogue", "transitions")


@dataclass(frozen=True)
class Element:
    """Text kept on a script, act or scene so the play can be rebuilt (action, notes, sections...)."""

    kind: ElementKind
    text: str
    position: int
    gap: str = ""
    level: int = 0  # a section's depth


@dataclass(frozen=True)
class Line:
    kind: LineKind
    text: str


@dataclass(frozen=True)
class Script:
    title: str
    title_page: list[tuple[str, str]] = field(default_factory=list)
    # The title page as written (with a requested title put in), or None when there is none.
    title_source: str | None = None
    # Notes, sections and synopses that stand before the first act or scene.
    preamble: list[Element] = field(default_factory=list)
    # What follows the last element: the final newline, trailing blank lines or boneyard.
    tail: str = ""


@dataclass(frozen=True)
class Act:
    seq: int
    title: str | None
    source: str | None = None  # the "# ACT ONE" line as written; None for an implicit act
    gap: str = ""
    preamble: list[Element] = field(default_factory=list)


@dataclass(frozen=True)
class Scene:
    seq: int
    act_seq: int
    heading: str | None
    number: str | None = None
    source: str | None = None  # the heading line as written; None for an implicit scene
    gap: str = ""
    elements: list[Element] = field(default_factory=list)


@dataclass(frozen=True)
class Character:
    seq: int
    name: str


@dataclass(frozen=True)
class Speech:
    seq: int
    scene_seq: int
    position: int
    character: str
    cue: str  # the cue line as written: "@McCLANE (V.O.) ^"
    extensions: list[str]
    lines: list[Line]
    dual: bool = False
    gap: str = ""


@dataclass(frozen=True)
class Transition:
    seq: int
    scene_seq: int
    position: int
    text: str
    source: str = ""  # as written: "> Burn to White."
    gap: str = ""


@dataclass(frozen=True)
class PlayDocument:
    script: Script
    acts: list[Act]
    scenes: list[Scene]
    characters: list[Character]
    dialogue: list[Speech]
    transitions: list[Transition]

    def counts(self) -> dict[str, int]:
        return {
            "acts": len(self.acts),
            "scenes": len(self.scenes),
            "characters": len(self.characters),
            "dialogue": len(self.dialogue),
            "transitions": len(self.transitions),
        }

    def entity_records(self) -> dict[str, list[dict[str, Any]]]:
        """Each entity's records as plain JSON-ready dicts, keyed by entity kind."""
        return {
            "script": [_record(self.script)],
            "acts": [_record(a) for a in self.acts],
            "scenes": [_record(s) for s in self.scenes],
            "characters": [_record(c) for c in self.characters],
            "dialogue": [_record(d) for d in self.dialogue],
            "transitions": [_record(t) for t in self.transitions],
        }


def _record(value: Any) -> Any:
    """A dataclass as JSON-ready data; cheaper than ``dataclasses.asdict``, which deep-copies."""
    if isinstance(value, list):
        return [_record(v) for v in value]
    if isinstance(value, tuple):
        return [_record(v) for v in value]
    if hasattr(value, "__dataclass_fields__"):
        return {name: _record(v) for name, v in vars(value).items()}
    return value


def document_from_records(records: dict[str, list[dict[str, Any]]]) -> PlayDocument:
    """Rebuild a PlayDocument from entity records (the inverse of ``entity_records``)."""

    def elements(raw: list[dict[str, Any]]) -> list[Element]:
        return [Element(**e) for e in raw]

    script = records["script"][0]
    return PlayDocument(
        script=Script(
            title=script["title"],
            title_page=[(k, v) for k, v in script["title_page"]],
            title_source=script.get("title_source"),
            preamble=elements(script.get("preamble", [])),
            tail=script.get("tail", ""),
        ),
        acts=[
            Act(a["seq"], a["title"], a.get("source"), a.get("gap", ""), elements(a["preamble"]))
            for a in records["acts"]
        ],
        scenes=[
            Scene(
                s["seq"],
                s["act_seq"],
                s["heading"],
                s.get("number"),
                s.get("source"),
                s.get("gap", ""),
                elements(s["elements"]),
            )
            for s in records["scenes"]
        ],
        characters=[Character(c["seq"], c["name"]) for c in records["characters"]],
        dialogue=[
            Speech(**{**d, "extensions": list(d["extensions"]), "lines": [Line(**ln) for ln in d["lines"]]})
            for d in records["dialogue"]
        ],
        transitions=[Transition(**t) for t in records["transitions"]],
    )
