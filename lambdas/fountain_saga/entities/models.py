"""The six entity tables as pynamodb models.

Every table is keyed (playId, seq): seq is the entity's position in the play, so a row's key is
a pure function of the play and a retried write lands on the same keys. Each row carries the id
of the saga that wrote it.
"""

from __future__ import annotations

import os
from typing import Any, ClassVar

from pynamodb.attributes import (
    BooleanAttribute,
    ListAttribute,
    MapAttribute,
    NumberAttribute,
    UnicodeAttribute,
)
from pynamodb.models import Model

from fountain_saga.topology import ENTITY_TABLES


def _table_name(kind: str) -> str:
    spec = ENTITY_TABLES[kind]
    return os.environ.get(spec.env_var, spec.local_name)


def _region() -> str:
    return os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"


class ElementMap(MapAttribute[str, Any]):
    kind = UnicodeAttribute()
    text = UnicodeAttribute()
    position = NumberAttribute()
    level = NumberAttribute(default=0)
    forced = BooleanAttribute(default=False)


class LineMap(MapAttribute[str, Any]):
    kind = UnicodeAttribute()
    text = UnicodeAttribute()


class TitleFieldMap(MapAttribute[str, Any]):
    key = UnicodeAttribute()
    value = UnicodeAttribute()


class EntityRow(Model):
    """Columns every entity row has; subclasses add their own and name their table."""

    kind: ClassVar[str]
    play_id = UnicodeAttribute(hash_key=True, attr_name="playId")
    seq = NumberAttribute(range_key=True)
    saga_id = UnicodeAttribute(attr_name="sagaId")


class ScriptRow(EntityRow):
    kind = "script"

    class Meta:
        table_name = _table_name("script")
        region = _region()

    title = UnicodeAttribute()
    title_page = ListAttribute(of=TitleFieldMap, attr_name="titlePage")
    preamble = ListAttribute(of=ElementMap)
    # PENDING until PublishPlay: readers ignore a PENDING script (the saga's semantic lock).
    status = UnicodeAttribute(default="PENDING")


class ActRow(EntityRow):
    kind = "acts"

    class Meta:
        table_name = _table_name("acts")
        region = _region()

    title = UnicodeAttribute(null=True)
    preamble = ListAttribute(of=ElementMap)


class SceneRow(EntityRow):
    kind = "scenes"

    class Meta:
        table_name = _table_name("scenes")
        region = _region()

    act_seq = NumberAttribute(attr_name="actSeq")
    heading = UnicodeAttribute(null=True)
    number = UnicodeAttribute(null=True)
    forced = BooleanAttribute(default=False)
    elements = ListAttribute(of=ElementMap)


class CharacterRow(EntityRow):
    kind = "characters"

    class Meta:
        table_name = _table_name("characters")
        region = _region()

    name = UnicodeAttribute()


class DialogueRow(EntityRow):
    kind = "dialogue"

    class Meta:
        table_name = _table_name("dialogue")
        region = _region()

    scene_seq = NumberAttribute(attr_name="sceneSeq")
    position = NumberAttribute()
    character = UnicodeAttribute()
    cue = UnicodeAttribute()
    extensions = ListAttribute(of=UnicodeAttribute)
    lines = ListAttribute(of=LineMap)
    dual = BooleanAttribute(default=False)
    forced = BooleanAttribute(default=False)


class TransitionRow(EntityRow):
    kind = "transitions"

    class Meta:
        table_name = _table_name("transitions")
        region = _region()

    scene_seq = NumberAttribute(attr_name="sceneSeq")
    position = NumberAttribute()
    text = UnicodeAttribute()
    forced = BooleanAttribute(default=False)


ENTITY_MODELS: dict[str, type[EntityRow]] = {
    model.kind: model for model in (ScriptRow, ActRow, SceneRow, CharacterRow, DialogueRow, TransitionRow)
}
