"""The play document: what a Fountain text becomes before the saga stores it.

Each entity's list is in the order of the text, and ``seq`` is its position in that list, so a
row's key (play id, seq) is a pure function of the text: writing the same play twice writes the
same keys. ``position`` places speeches, transitions and other elements inside their scene, so
the text can be rebuilt from the six tables.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

LineKind = Literal["dialogue", "parenthetical", "lyrics", "note"]
ElementKind = Literal["action", "centered", "lyrics", "note", "section", "synopsis", "page_break"]
ENTITY_KINDS = ("script", "acts", "scenes", "characters", "dialogue", "transitions")


@dataclass(frozen=True)
class Element:
    """Text kept on an act or scene so the play can be rebuilt (action, notes, sections...)."""

    kind: ElementKind
    text: str
    position: int
    level: int = 0
    forced: bool = False


@dataclass(frozen=True)
class Line:
    kind: LineKind
    text: str


@dataclass(frozen=True)
class Script:
    title: str
    title_page: list[tuple[str, str]] = field(default_factory=list)
    # Notes, sections and synopses that stand before the first act.
    preamble: list[Element] = field(default_factory=list)


@dataclass(frozen=True)
class Act:
    seq: int
    title: str | None
    preamble: list[Element] = field(default_factory=list)


@dataclass(frozen=True)
class Scene:
    seq: int
    act_seq: int
    heading: str | None
    number: str | None = None
    forced: bool = False
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
    cue: str
    extensions: list[str]
    lines: list[Line]
    dual: bool = False
    forced: bool = False


@dataclass(frozen=True)
class Transition:
    seq: int
    scene_seq: int
    position: int
    text: str
    forced: bool = False


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
            "script": [asdict(self.script)],
            "acts": [asdict(a) for a in self.acts],
            "scenes": [asdict(s) for s in self.scenes],
            "characters": [asdict(c) for c in self.characters],
            "dialogue": [asdict(d) for d in self.dialogue],
            "transitions": [asdict(t) for t in self.transitions],
        }


def document_from_records(records: dict[str, list[dict[str, Any]]]) -> PlayDocument:
    """Rebuild a PlayDocument from entity records (the inverse of ``entity_records``)."""

    def elements(raw: list[dict[str, Any]]) -> list[Element]:
        return [Element(**e) for e in raw]

    script = records["script"][0]
    return PlayDocument(
        script=Script(
            title=script["title"],
            title_page=[(k, v) for k, v in script["title_page"]],
            preamble=elements(script.get("preamble", [])),
        ),
        acts=[Act(a["seq"], a["title"], elements(a["preamble"])) for a in records["acts"]],
        scenes=[
            Scene(s["seq"], s["act_seq"], s["heading"], s["number"], s["forced"], elements(s["elements"]))
            for s in records["scenes"]
        ],
        characters=[Character(c["seq"], c["name"]) for c in records["characters"]],
        dialogue=[
            Speech(**{**d, "extensions": list(d["extensions"]), "lines": [Line(**ln) for ln in d["lines"]]})
            for d in records["dialogue"]
        ],
        transitions=[Transition(**t) for t in records["transitions"]],
    )
