"""The six entity tables as pynamodb models.

Every table is keyed (playVersion, seq): playVersion is "<playId>.<version>", so each version
of a play is a partition of its own, and seq is the entity's position in that version, so a
row's key is a pure function of the play and a retried write lands on the same keys. Each row
carries the id of the saga that wrote it. The script table also holds each play's head (see
``heads``), at the play id alone.
"""

from __future__ import annotations

import os
from typing import Any, ClassVar, cast

from pynamodb.attributes import (
    BooleanAttribute,
    ListAttribute,
    MapAttribute,
    NumberAttribute,
    UnicodeAttribute,
)
from pynamodb.models import MetaProtocol, Model

from fountain_saga.topology import ENTITY_TABLES, aws_region


def _meta(kind: str) -> MetaProtocol:
    """A model's Meta: its table's name from the deployment's environment (local name by default)."""
    spec = ENTITY_TABLES[kind]
    meta = type(
        "Meta",
        (),
        {
            "table_name": os.environ.get(spec.env_var, spec.local_name),
            "region": aws_region(),
        },
    )
    return cast(MetaProtocol, meta)


class ElementMap(MapAttribute[str, Any]):
    kind = UnicodeAttribute()
    text = UnicodeAttribute()  # as written: markup, force marks, notes and boneyard included
    position = NumberAttribute()
    gap = UnicodeAttribute(default="")  # what stood between the previous element and this one
    level = NumberAttribute(default=0)


class LineMap(MapAttribute[str, Any]):
    kind = UnicodeAttribute()
    text = UnicodeAttribute()


class TitleFieldMap(MapAttribute[str, Any]):
    key = UnicodeAttribute()
    value = UnicodeAttribute()


class EntityRow(Model):
    """Columns every entity row has; subclasses add their own and name their table."""

    kind: ClassVar[str]
    partition = UnicodeAttribute(hash_key=True, attr_name="playVersion")
    seq = NumberAttribute(range_key=True)
    saga_id = UnicodeAttribute(attr_name="sagaId")


class ScriptRow(EntityRow):
    kind = "script"

    Meta = _meta("script")

    title = UnicodeAttribute()
    title_page = ListAttribute(of=TitleFieldMap, attr_name="titlePage")
    title_source = UnicodeAttribute(null=True, attr_name="titleSource")
    preamble = ListAttribute(of=ElementMap)
    tail = UnicodeAttribute(default="")


class ActRow(EntityRow):
    kind = "acts"

    Meta = _meta("acts")

    title = UnicodeAttribute(null=True)
    source = UnicodeAttribute(null=True)
    gap = UnicodeAttribute(default="")
    preamble = ListAttribute(of=ElementMap)


class SceneRow(EntityRow):
    kind = "scenes"

    Meta = _meta("scenes")

    act_seq = NumberAttribute(attr_name="actSeq")
    heading = UnicodeAttribute(null=True)
    number = UnicodeAttribute(null=True)
    source = UnicodeAttribute(null=True)
    gap = UnicodeAttribute(default="")
    elements = ListAttribute(of=ElementMap)


class CharacterRow(EntityRow):
    kind = "characters"

    Meta = _meta("characters")

    name = UnicodeAttribute()


class DialogueRow(EntityRow):
    kind = "dialogue"

    Meta = _meta("dialogue")

    scene_seq = NumberAttribute(attr_name="sceneSeq")
    position = NumberAttribute()
    character = UnicodeAttribute()
    cue = UnicodeAttribute()  # the cue line as written
    extensions = ListAttribute(of=UnicodeAttribute)
    lines = ListAttribute(of=LineMap)
    dual = BooleanAttribute(default=False)
    gap = UnicodeAttribute(default="")


class TransitionRow(EntityRow):
    kind = "transitions"

    Meta = _meta("transitions")

    scene_seq = NumberAttribute(attr_name="sceneSeq")
    position = NumberAttribute()
    text = UnicodeAttribute()
    source = UnicodeAttribute()
    gap = UnicodeAttribute(default="")


ENTITY_MODELS: dict[str, type[EntityRow]] = {
    model.kind: model for model in (ScriptRow, ActRow, SceneRow, CharacterRow, DialogueRow, TransitionRow)
}
