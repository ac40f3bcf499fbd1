"""Filters (SPEC §3.1–3.2) compiled into SQL expressions.

A filter is a dict: a scalar means equality, a list means IN, a dict is an operator map or, for a
relation, a nested filter; `$and` / `$or` nest to any depth; `q` is free text. Everything is bound as
parameters; unknown fields, operators and ill-typed values raise `InvalidDataError` naming the path.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BindParameter,
    Boolean,
    ColumnElement,
    DateTime,
    Text,
    and_,
    false,
    literal,
    literal_column,
    not_,
    or_,
    true,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import InstrumentedAttribute

from customer_service.db import PLANNED_PER_CALL
from customer_service.entities import SPECS, EntitySpec
from customer_service.errors import InvalidDataError

MAX_FILTER_DEPTH = 8
MAX_IN_VALUES = 10_000
MAX_Q_TOKENS = 16
# A filter is bounded in work, not only in depth: at most this many conditions in all (each
# field, operator and `$and`/`$or` branch counts one; an IN list counts one), and patterns
# (`$like`, `$ilike`, `$re`) at most this long. The statement timeout (db.py) bounds the rest.
MAX_FILTER_CONDITIONS = 64
MAX_PATTERN_LENGTH = 256

_PER_CALL_SQL = "TRUE " + PLANNED_PER_CALL  # a condition that holds, and marks the statement
_PLANNED_PER_CALL: ColumnElement[bool] = literal_column(_PER_CALL_SQL, Boolean)


def _conditions(value: Any) -> int:
    if isinstance(value, Mapping):
        return sum(1 + _conditions(v) for v in value.values())
    if isinstance(value, list | tuple) and any(isinstance(v, Mapping) for v in value):
        return sum(_conditions(v) for v in value)
    return 0


def escape_like(token: str) -> str:
    """Decision 4: `%` and `_` in user text match themselves."""
    return token.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def free_text(spec: EntitySpec[Any], q: Any, path: str) -> ColumnElement[bool]:
    if not isinstance(q, str):
        raise InvalidDataError(f"Invalid {path}: expected a string", field=path)
    tokens = q.split()
    if not tokens:
        return true()
    if not spec.search_columns:
        raise InvalidDataError(f"{spec.name} has no searchable fields for q", field=path)
    if len(tokens) > MAX_Q_TOKENS:
        raise InvalidDataError(f"Invalid {path}: at most {MAX_Q_TOKENS} words", field=path)
    if "\x00" in q:
        raise InvalidDataError(f"Invalid {path}: must not contain NUL characters", field=path)
    document = spec.search_document()
    return and_(*(document.ilike(f"%{escape_like(token)}%", escape="\\") for token in tokens))


def _json(value: Any, path: str) -> BindParameter[Any]:
    """A JSON value bound as jsonb (so `=`, `IN` and `@>` compare jsonb with jsonb)."""
    try:
        encoded = json.dumps(value, allow_nan=False)
    except (TypeError, ValueError):
        raise InvalidDataError(f"Invalid {path}: expected a JSON value", field=path) from None
    if "\\u0000" in encoded:
        raise InvalidDataError(f"Invalid {path}: must not contain NUL characters", field=path)
    return literal(value, JSONB)


def _coerce(column: InstrumentedAttribute[Any], value: Any, path: str) -> Any:
    column_type = column.property.columns[0].type
    if isinstance(column_type, Boolean):
        if isinstance(value, bool):
            return value
        raise InvalidDataError(f"Invalid {path}: expected true or false", field=path)
    if isinstance(column_type, DateTime):
        if isinstance(value, datetime):
            return value
        if isinstance(value, str):
            try:
                return datetime.fromisoformat(value)
            except ValueError:
                pass
        raise InvalidDataError(f"Invalid {path}: expected an ISO 8601 date-time", field=path)
    if isinstance(column_type, JSONB):
        return _json(value, path)
    if isinstance(value, str):
        if "\x00" in value:
            raise InvalidDataError(f"Invalid {path}: must not contain NUL characters", field=path)
        return value
    raise InvalidDataError(f"Invalid {path}: expected a string", field=path)


def _values(column: InstrumentedAttribute[Any], value: Any, path: str) -> list[Any]:
    if not isinstance(value, list | tuple):
        raise InvalidDataError(f"Invalid {path}: expected a list", field=path)
    if len(value) > MAX_IN_VALUES:
        raise InvalidDataError(f"Invalid {path}: at most {MAX_IN_VALUES} values", field=path)
    coerced = [_coerce(column, v, path) for v in value]
    if isinstance(column.property.columns[0].type, JSONB):
        return coerced  # unhashable values; duplicates in IN are harmless
    return list(dict.fromkeys(coerced))


def _operator(
    column: InstrumentedAttribute[Any], op: str, value: Any, path: str
) -> ColumnElement[bool]:
    where = f"{path}.{op}"
    column_type = column.property.columns[0].type
    is_json = isinstance(column_type, JSONB)
    is_text = isinstance(column_type, Text) and not is_json  # pattern operators: text only
    if op == "$eq":
        return column.is_(None) if value is None else column == _coerce(column, value, where)
    if op == "$ne":
        return column.is_not(None) if value is None else column != _coerce(column, value, where)
    if op == "$in":
        values = _values(column, value, where)
        return column.in_(values) if values else false()
    if op == "$nin":
        values = _values(column, value, where)
        return column.not_in(values) if values else true()
    if op in ("$gt", "$gte", "$lt", "$lte"):
        if isinstance(column_type, Boolean):
            raise InvalidDataError(f"Invalid {where}: true/false fields have no order", field=where)
        bound = _coerce(column, value, where)
        comparisons: dict[str, ColumnElement[bool]] = {
            "$gt": column > bound,
            "$gte": column >= bound,
            "$lt": column < bound,
            "$lte": column <= bound,
        }
        return comparisons[op]
    if (
        op in ("$like", "$ilike", "$re")
        and isinstance(value, str)
        and len(value) > MAX_PATTERN_LENGTH
    ):
        raise InvalidDataError(
            f"Invalid {where}: a pattern is at most {MAX_PATTERN_LENGTH} characters", field=where
        )
    if op in ("$like", "$ilike"):
        if not is_text or not isinstance(value, str):
            raise InvalidDataError(f"Invalid {where}: expected a string pattern", field=where)
        pattern = _coerce(column, value, where)
        return column.like(pattern) if op == "$like" else column.ilike(pattern)
    if op == "$re":
        if not is_text or not isinstance(value, str):
            raise InvalidDataError(f"Invalid {where}: expected a regular expression", field=where)
        return column.regexp_match(_coerce(column, value, where))
    if op == "$contains":
        if is_json:
            if not isinstance(value, dict | list):
                raise InvalidDataError(f"Invalid {where}: expected an object", field=where)
            contains: ColumnElement[bool] = column.op("@>", is_comparison=True)(_json(value, where))
            return contains
        if not is_text or not isinstance(value, str):
            raise InvalidDataError(f"Invalid {where}: expected a string", field=where)
        needle = _coerce(column, value, where)
        return column.like(f"%{escape_like(needle)}%", escape="\\")
    if op == "$exists":
        if not isinstance(value, bool):
            raise InvalidDataError(f"Invalid {where}: expected true or false", field=where)
        return column.is_not(None) if value else column.is_(None)
    if op == "$not":
        return not_(_field_condition(column, value, where))
    raise InvalidDataError(f"Unknown operator {op} in {path}", field=where)


def _field_condition(
    column: InstrumentedAttribute[Any], value: Any, path: str
) -> ColumnElement[bool]:
    if value is None:
        return column.is_(None)
    if isinstance(value, list | tuple):
        values = _values(column, value, path)
        return column.in_(values) if values else false()
    if isinstance(value, Mapping):
        if not value:
            raise InvalidDataError(f"Invalid {path}: empty operator map", field=path)
        if not all(isinstance(k, str) and k.startswith("$") for k in value):
            is_json = isinstance(column.property.columns[0].type, JSONB)
            if is_json:
                contains: ColumnElement[bool] = column.op("@>", is_comparison=True)(
                    _json(dict(value), path)
                )
                return contains
            raise InvalidDataError(f"Invalid {path}: expected a value or operator map", field=path)
        return and_(*(_operator(column, op, v, path) for op, v in value.items()))
    equal: ColumnElement[bool] = column == _coerce(column, value, path)
    return equal


def compile_filter(
    spec: EntitySpec[Any], filters: Mapping[str, Any] | None, path: str = "filters", depth: int = 0
) -> ColumnElement[bool]:
    """The WHERE condition for `filters` on `spec`'s table (soft-delete filtering is separate).
    A statement that uses it is planned with its values on every call (`db.PLANNED_PER_CALL`):
    how many rows a filter matches depends on them."""
    if filters is None:
        return true()
    if not isinstance(filters, Mapping):
        raise InvalidDataError(f"Invalid {path}: expected an object", field=path)
    if depth > MAX_FILTER_DEPTH:
        raise InvalidDataError(f"Invalid {path}: nested too deeply", field=path)
    if depth == 0 and _conditions(filters) > MAX_FILTER_CONDITIONS:
        raise InvalidDataError(
            f"Invalid {path}: more than {MAX_FILTER_CONDITIONS} conditions", field=path
        )
    conditions: list[ColumnElement[bool]] = []
    for key, value in filters.items():
        where = f"{path}.{key}"
        if key in ("$and", "$or"):
            if not isinstance(value, list | tuple):
                raise InvalidDataError(f"Invalid {where}: expected a list of filters", field=where)
            parts = [
                compile_filter(spec, f, f"{where}[{i}]", depth + 1) for i, f in enumerate(value)
            ]
            if key == "$and":
                conditions.append(and_(true(), *parts))
            else:
                conditions.append(or_(*parts) if parts else false())
        elif key == "q":
            conditions.append(free_text(spec, value, where))
        elif key in spec.filter_relations:
            target_name, build = spec.filter_relations[key]
            target = SPECS[target_name]
            if isinstance(value, str | list | tuple):
                nested: Any = {"id": value}
            else:
                nested = value
            conditions.append(build(compile_filter(target, nested, where, depth + 1)))
        else:
            column = spec.column(key)
            if column is None:
                raise InvalidDataError(f"Unknown filter field '{key}' for {spec.name}", field=where)
            conditions.append(_field_condition(column, value, where))
    if depth == 0:
        conditions.insert(0, _PLANNED_PER_CALL)
    return and_(true(), *conditions)
