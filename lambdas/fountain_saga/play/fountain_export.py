"""A PlayDocument back to Fountain text: the proof that the saga stored the whole play.

Parsing the output again yields the same acts, scenes, characters, speeches and transitions.
"""

from __future__ import annotations

import re
from collections import defaultdict

from fountain_saga.play.document import Element, PlayDocument, Scene, Speech, Transition

_Item = Element | Speech | Transition
_LOOKS_STRUCTURAL = re.compile(r"^(?:INT|EXT|EST|INT\.?/EXT|I/E)[. ]|TO:$|^[#=>~.@!]", re.IGNORECASE)


def render_fountain(play: PlayDocument) -> str:
    blocks: list[str] = []
    if play.script.title_page:
        blocks.append("\n".join(_title_field(key, value) for key, value in play.script.title_page))
    blocks.extend(_element(e) for e in play.script.preamble)

    scenes_by_act: dict[int, list[Scene]] = defaultdict(list)
    for scene in play.scenes:
        scenes_by_act[scene.act_seq].append(scene)
    items_by_scene: dict[int, list[_Item]] = defaultdict(list)
    for speech in play.dialogue:
        items_by_scene[speech.scene_seq].append(speech)
    for transition in play.transitions:
        items_by_scene[transition.scene_seq].append(transition)

    for act in play.acts:
        if act.title is not None:
            blocks.append(f"# {act.title}")
        blocks.extend(_element(e) for e in act.preamble)
        for scene in scenes_by_act[act.seq]:
            if scene.heading is not None:
                blocks.append(_heading(scene))
            items: list[_Item] = [*scene.elements, *items_by_scene[scene.seq]]
            items.sort(key=lambda item: item.position)
            dual_open = False
            for item in items:
                if isinstance(item, Speech):
                    # Dual dialogue comes in pairs; the second cue of a pair carries the caret.
                    right = item.dual and dual_open
                    dual_open = item.dual and not dual_open
                    blocks.append(_speech(item, right))
                else:
                    dual_open = False
                    blocks.append(_transition(item) if isinstance(item, Transition) else _element(item))
    return "\n\n".join(blocks) + "\n"


def _title_field(key: str, value: str) -> str:
    label = key.title()
    if "\n" in value:
        return f"{label}:\n" + "\n".join(f"    {line}" for line in value.split("\n"))
    return f"{label}: {value}"


def _heading(scene: Scene) -> str:
    text = f".{scene.heading}" if scene.forced else str(scene.heading)
    return f"{text} #{scene.number}#" if scene.number else text


def _speech(speech: Speech, right: bool) -> str:
    # A first line that looks like a cue, heading or transition would stop the cue being read as one.
    first = speech.lines[0].text if speech.lines else ""
    forced = speech.forced or _may_be_misread(first)
    cue = ("@" if forced else "") + speech.cue
    cue += "".join(f" ({extension})" for extension in speech.extensions)
    if right:
        cue += " ^"
    lines = [cue]
    for line in speech.lines:
        if line.kind == "lyrics":
            lines.append(f"~{line.text}")
        else:
            # A blank line inside a speech is written as two spaces, or it would end the speech.
            lines.append(_keep_blank_lines(line.text))
    return "\n".join(lines)


def _transition(transition: Transition) -> str:
    return f"> {transition.text}" if transition.forced else transition.text


def _element(element: Element) -> str:
    kind = element.kind
    if kind == "action":
        return f"!{element.text}" if element.forced or _may_be_misread(element.text) else element.text
    if kind == "centered":
        return f">{element.text}<"
    if kind == "lyrics":
        return f"~{element.text}"
    if kind == "section":
        return f"{'#' * max(element.level, 2)} {element.text}"
    if kind == "synopsis":
        return f"= {element.text}"
    if kind == "page_break":
        return "==="
    # Notes keep their [[ ]] markup; a blank line inside one is written as two spaces, as in speech.
    return _keep_blank_lines(element.text)


def _keep_blank_lines(text: str) -> str:
    return "\n".join(line if line.strip() else "  " for line in text.split("\n"))


def _may_be_misread(action: str) -> bool:
    """Would this action, written plainly, be read back as a cue, heading or transition?"""
    first = action.split("\n", 1)[0].strip()
    return bool(first) and (first.isupper() or bool(_LOOKS_STRUCTURAL.search(first)))
