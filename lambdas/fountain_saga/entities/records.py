"""Staged records to table rows and back, through the pynamodb models."""

from __future__ import annotations

from typing import Any

from pynamodb.attributes import ListAttribute, MapAttribute

from fountain_saga.entities.models import ENTITY_MODELS, EntityRow, TitleFieldMap


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
