"""A PlayDocument back to Fountain text: the proof that the saga stored the whole play.

Every part of the document keeps the text it was read from and the text before it, so the play
is those pieces in the order of the text: the title page, the script's preamble, then each act
and its scenes, with speeches, transitions and other elements in their scene by position. The
result is the text that was sent, byte for byte, but for the normalisations docs/fountain-reading.md
lists (line endings, a byte-order mark, a requested title).
"""

from __future__ import annotations

from collections import defaultdict

from fountain_saga.play.document import Element, PlayDocument, Scene, Speech, Transition

_Item = Element | Speech | Transition


def render_fountain(play: PlayDocument) -> str:
    out: list[str] = [play.script.title_source or ""]
    _elements(out, play.script.preamble)

    scenes_by_act: dict[int, list[Scene]] = defaultdict(list)
    for scene in play.scenes:
        scenes_by_act[scene.act_seq].append(scene)
    items_by_scene: dict[int, list[_Item]] = defaultdict(list)
    for speech in play.dialogue:
        items_by_scene[speech.scene_seq].append(speech)
    for transition in play.transitions:
        items_by_scene[transition.scene_seq].append(transition)

    for act in play.acts:
        if act.source is not None:
            out += (act.gap, act.source)
        _elements(out, act.preamble)
        for scene in scenes_by_act[act.seq]:
            if scene.source is not None:
                out += (scene.gap, scene.source)
            items: list[_Item] = [*scene.elements, *items_by_scene[scene.seq]]
            items.sort(key=lambda item: item.position)
            for item in items:
                out.append(item.gap)
                if isinstance(item, Speech):
                    out.append(item.cue)
                    for line in item.lines:
                        out += ("\n", line.text)
                elif isinstance(item, Transition):
                    out.append(item.source)
                else:
                    out.append(item.text)
    out.append(play.script.tail)
    return "".join(out)


def _elements(out: list[str], elements: list[Element]) -> None:
    for element in elements:
        out += (element.gap, element.text)
