"""Staged records to table rows and back, following the pynamodb models' attributes.

The models are the schema; encoding and decoding walk a plan built from them once, so a step
writing thousands of rows and a reader loading them never build a model instance per row.
"""

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

from fountain_saga.entities.item_size import number_size, utf8_size
from fountain_saga.entities.models import ENTITY_MODELS, EntityRow, TitleFieldMap

Item = dict[str, dict[str, Any]]
ValueEncoder = Callable[[Any], dict[str, Any]]
ValueDecoder = Callable[[dict[str, Any]], Any]


def row_from_record(kind: str, partition: str, saga_id: str, record: dict[str, Any]) -> EntityRow:
    model = ENTITY_MODELS[kind]
    values: dict[str, Any] = {"partition": partition, "saga_id": saga_id, "seq": record.get("seq", 0)}
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


def item_from_record(kind: str, partition: str, saga_id: str, record: dict[str, Any]) -> Item:
    """The DynamoDB item ``row_from_record(...).serialize()`` gives, without building a model.

    A step writes thousands of rows, and a pynamodb model instance (with a map instance per
    line and element) costs more than the write itself; this encodes straight from the
    record, following the same model's attributes, names, defaults and null rules.
    """
    values: dict[str, Any] = {
        **record,
        "partition": partition,
        "saga_id": saga_id,
        "seq": record.get("seq", 0),
    }
    return _encode_container(_model_plan(kind), values)


def record_from_row(row: EntityRow) -> dict[str, Any]:
    """The record a model instance holds (the slow, obvious decoding ``record_from_item`` mirrors)."""
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
    record.pop("partition", None)
    record.pop("saga_id", None)
    return record


def record_from_item(kind: str, item: Item) -> dict[str, Any]:
    """The staged record a stored item holds: ``item_from_record`` undone, defaults filled in."""
    return _decode_container(_decoding_plan(kind), item)


def partition_of(play_id: str, version: int) -> str:
    """The partition holding one version of a play in every entity table."""
    return f"{play_id}.{version}"


def key_of(partition: str, seq: int) -> dict[str, Any]:
    """An entity row's key: a version's partition (or, for the script's head, the play id alone)."""
    return {"playVersion": {"S": partition}, "seq": {"N": str(seq)}}


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


# -- decoding: the same plan, read backwards -------------------------------------------------------
_Decoding = tuple[tuple[str, str, Any, ValueDecoder], ...]


@cache
def _decoding_plan(kind: str) -> _Decoding:
    return _decoders(ENTITY_MODELS[kind].get_attributes(), skip=("partition", "saga_id"))


@cache
def _map_decoding_plan(map_type: type[MapAttribute[str, Any]]) -> _Decoding:
    return _decoders(map_type.get_attributes(), skip=())


def _decoders(attributes: dict[str, Attribute[Any]], skip: tuple[str, ...]) -> _Decoding:
    return tuple(
        (name, attribute.attr_name, _default(attribute), _value_decoder(name, attribute))
        for name, attribute in attributes.items()
        if name not in skip
    )


def _number(value: dict[str, Any]) -> int | float:
    text = value["N"]
    number = float(text)
    return int(number) if number.is_integer() and "e" not in text.lower() else number


def _value_decoder(name: str, attribute: Attribute[Any]) -> ValueDecoder:
    if isinstance(attribute, UnicodeAttribute):
        return lambda value: value["S"]
    if isinstance(attribute, NumberAttribute):
        return _number
    if isinstance(attribute, BooleanAttribute):
        return lambda value: value["BOOL"]
    if isinstance(attribute, ListAttribute):
        element: Any = attribute.element_type
        if name == "title_page":
            return lambda values: [(v["M"]["key"]["S"], v["M"]["value"]["S"]) for v in values["L"]]
        if _is_map(element):
            plan = _map_decoding_plan(element)
            return lambda values: [_decode_container(plan, v["M"]) for v in values["L"]]
        if element is UnicodeAttribute:
            return lambda values: [v["S"] for v in values["L"]]
    raise TypeError(f"no item decoding for attribute {name} ({type(attribute).__name__})")


def _decode_container(plan: _Decoding, item: Item) -> dict[str, Any]:
    record: dict[str, Any] = {}
    for name, stored_name, default, decode in plan:
        value = item.get(stored_name)
        record[name] = default if value is None or "NULL" in value else decode(value)
    return record


# -- sizing: the same plan, measured by DynamoDB's item-size rules (see item_size) ----------------
Sizer = Callable[[Any], int]
_Sizing = tuple[tuple[str, int, Attribute[Any], Sizer], ...]


def encoded_size(kind: str, partition: str, saga_id: str, record: Any) -> int:
    """``item_size(item_from_record(...))``, without building the item (the intake sizes every row).

    ``record`` may also be the document's dataclass itself, whose fields are the record's.
    """
    fields = _fields(record)
    values: dict[str, Any] = {
        **fields,
        "partition": partition,
        "saga_id": saga_id,
        "seq": fields.get("seq", 0),
    }
    return _container_size(_sizing_plan(kind), values, nested=False)


@cache
def _sizing_plan(kind: str) -> _Sizing:
    return _sizers(ENTITY_MODELS[kind].get_attributes())


@cache
def _map_sizing_plan(map_type: type[MapAttribute[str, Any]]) -> _Sizing:
    return _sizers(map_type.get_attributes())


def _sizers(attributes: dict[str, Attribute[Any]]) -> _Sizing:
    return tuple(
        (name, utf8_size(attribute.attr_name), attribute, _value_sizer(name, attribute))
        for name, attribute in attributes.items()
    )


_LIST_OVERHEAD = 3  # a list or map: 3 bytes, and 1 more for each element


def _value_sizer(name: str, attribute: Attribute[Any]) -> Sizer:
    if isinstance(attribute, UnicodeAttribute):
        return utf8_size
    if isinstance(attribute, NumberAttribute):
        return lambda value: number_size(str(value))
    if isinstance(attribute, BooleanAttribute):
        return lambda value: 1
    if isinstance(attribute, ListAttribute):
        element: Any = attribute.element_type
        if name == "title_page":
            plan = _map_sizing_plan(element)
            return lambda pairs: (
                _LIST_OVERHEAD
                + sum(1 + _container_size(plan, {"key": k, "value": v}, nested=True) for k, v in pairs)
            )
        if _is_map(element):
            plan = _map_sizing_plan(element)
            return lambda values: (
                _LIST_OVERHEAD + sum(1 + _container_size(plan, _fields(v), nested=True) for v in values)
            )
        if element is UnicodeAttribute:
            return lambda values: _LIST_OVERHEAD + sum(1 + utf8_size(v) for v in values)
    raise TypeError(f"no item size for attribute {name} ({type(attribute).__name__})")


def _container_size(plan: _Sizing, values: dict[str, Any], *, nested: bool) -> int:
    # A map nested in a list is a value: 3 bytes, and 1 for each of its attributes.
    size = _LIST_OVERHEAD if nested else 0
    for name, name_size, attribute, sizer in plan:
        value = values[name] if name in values else _default(attribute)
        if value is None:
            if not attribute.null:
                raise AttributeNullError(name)
            continue
        size += name_size + sizer(value) + (1 if nested else 0)
    return size


def _fields(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else vars(value)
