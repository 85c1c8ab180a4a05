"""Staged records to table rows and back, through the pynamodb models."""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import cache
from typing import Any

from pynamodb.attributes import (
    Attribute,
    BooleanAttribute,
    ListAttribute,
    MapAttribute,
    NumberAttribute,
    UnicodeAttribute,
)
from pynamodb.exceptions import AttributeNullError

from fountain_saga.entities.models import ENTITY_MODELS, EntityRow, TitleFieldMap

Item = dict[str, dict[str, Any]]
ValueEncoder = Callable[[Any], dict[str, Any]]


def row_from_record(kind: str, play_id: str, saga_id: str, record: dict[str, Any]) -> EntityRow:
    model = ENTITY_MODELS[kind]
    values: dict[str, Any] = {"play_id": play_id, "saga_id": saga_id, "seq": record.get("seq", 0)}
    for name, attribute in model.get_attributes().items():
        if name in values or name not in record:
            continue
        value = record[name]
        if name == "title_page":
            value = [TitleFieldMap(key=k, value=v) for k, v in value]
        elif isinstance(attribute, ListAttribute) and _is_map(attribute.element_type):
            map_type: Any = attribute.element_type
            value = [map_type(**item) for item in value]
        values[name] = value
    return model(**values)


def item_from_record(kind: str, play_id: str, saga_id: str, record: dict[str, Any]) -> Item:
    """The DynamoDB item ``row_from_record(...).serialize()`` gives, without building a model.

    A step writes thousands of rows, and a pynamodb model instance (with a map instance per
    line and element) costs more than the write itself; this encodes straight from the
    record, following the same model's attributes, names, defaults and null rules.
    """
    values: dict[str, Any] = {**record, "play_id": play_id, "saga_id": saga_id, "seq": record.get("seq", 0)}
    return _encode_container(_model_plan(kind), values)


def record_from_row(row: EntityRow) -> dict[str, Any]:
    record: dict[str, Any] = {}
    for name in row.get_attributes():
        value = getattr(row, name)
        if name == "title_page":
            value = [(f.key, f.value) for f in value]
        elif isinstance(value, list):
            value = [v.as_dict() if isinstance(v, MapAttribute) else v for v in value]
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        record[name] = value
    record.pop("play_id", None)
    record.pop("saga_id", None)
    return record


def key_of(play_id: str, seq: int) -> dict[str, Any]:
    return {"playId": {"S": play_id}, "seq": {"N": str(seq)}}


def _is_map(element_type: Any) -> bool:
    return isinstance(element_type, type) and issubclass(element_type, MapAttribute)


# -- the encoding plan: each attribute's python name, stored name, default and encoder ----------
_Field = tuple[str, str, Attribute[Any], ValueEncoder]


@cache
def _model_plan(kind: str) -> tuple[_Field, ...]:
    return _plan(ENTITY_MODELS[kind].get_attributes())


@cache
def _map_plan(map_type: type[MapAttribute[str, Any]]) -> tuple[_Field, ...]:
    return _plan(map_type.get_attributes())


def _plan(attributes: dict[str, Attribute[Any]]) -> tuple[_Field, ...]:
    return tuple(
        (name, attribute.attr_name, attribute, _value_encoder(name, attribute))
        for name, attribute in attributes.items()
    )


def _value_encoder(name: str, attribute: Attribute[Any]) -> ValueEncoder:
    # Only the attribute types the entity models use; a new one fails here, not silently.
    if isinstance(attribute, UnicodeAttribute):
        return lambda value: {"S": value}
    if isinstance(attribute, NumberAttribute):
        return lambda value: {"N": json.dumps(value)}
    if isinstance(attribute, BooleanAttribute):
        return lambda value: {"BOOL": bool(value)}
    if isinstance(attribute, ListAttribute):
        element: Any = attribute.element_type
        if name == "title_page":
            plan = _map_plan(element)
            return lambda pairs: {
                "L": [{"M": _encode_container(plan, {"key": k, "value": v})} for k, v in pairs]
            }
        if _is_map(element):
            plan = _map_plan(element)
            return lambda values: {"L": [{"M": _encode_container(plan, v)} for v in values]}
        if element is UnicodeAttribute:
            return lambda values: {"L": [{"S": v} for v in values]}
    raise TypeError(f"no item encoding for attribute {name} ({type(attribute).__name__})")


def _encode_container(plan: tuple[_Field, ...], values: dict[str, Any]) -> Item:
    item: Item = {}
    for name, stored_name, attribute, encode in plan:
        value = values[name] if name in values else _default(attribute)
        if value is None:
            if not attribute.null:
                raise AttributeNullError(name)
            continue
        item[stored_name] = encode(value)
    return item


def _default(attribute: Attribute[Any]) -> Any:
    default = attribute.default
    return default() if callable(default) else default
