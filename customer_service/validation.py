"""Turning raw input into validated models, with errors that name the field."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from customer_service.errors import InvalidDataError
from customer_service.schemas import MAX_BATCH

M = TypeVar("M", bound=BaseModel)


def describe(error: ValidationError, root: str = "") -> InvalidDataError:
    """The first thing pydantic rejected, as Medusa's invalid_data naming the field."""
    first = error.errors()[0]
    location = ".".join(str(p) for p in first["loc"])
    field = ".".join(part for part in (root, location) if part) or error.title
    if first["type"] == "extra_forbidden":
        message = f"Unrecognized field: '{field}'"
    else:
        message = f"Invalid {field}: {first['msg']}"
        for prefix in ("Value error, ", "Assertion failed, "):
            message = message.replace(prefix, "")
    return InvalidDataError(message, field=field)


def parse(model: type[M], value: Any, root: str) -> M:
    if isinstance(value, model):
        return value
    if isinstance(value, BaseModel):
        value = value.model_dump(exclude_unset=True)
    if not isinstance(value, Mapping):
        raise InvalidDataError(f"Invalid {root}: expected an object", field=root)
    try:
        return model.model_validate(dict(value))
    except ValidationError as exc:
        raise describe(exc, root) from None


def parse_many(model: type[M], value: Any, root: str) -> tuple[list[M], bool]:
    """One object or a list of them; returns the models and whether the input was a single one."""
    if isinstance(value, list | tuple):
        if len(value) > MAX_BATCH:
            raise InvalidDataError(
                f"Invalid {root}: at most {MAX_BATCH} items per call", field=root
            )
        return [parse(model, v, f"{root}[{i}]") for i, v in enumerate(value)], False
    return [parse(model, value, root)], True


def parse_id(value: Any, root: str) -> str:
    """One well-formed id (a non-empty string of at most 64 characters, without NUL)."""
    if not isinstance(value, str) or not value or "\x00" in value or len(value) > 64:
        raise InvalidDataError(f"Invalid {root}: expected an id", field=root)
    return value


def parse_optional_id(value: Any, root: str) -> str | None:
    return None if value is None else parse_id(value, root)


def parse_ids(value: Any, root: str = "ids") -> list[str]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list | tuple) or not all(isinstance(i, str) and i for i in items):
        raise InvalidDataError(f"Invalid {root}: expected an id or a list of ids", field=root)
    if len(items) > MAX_BATCH:
        raise InvalidDataError(f"Invalid {root}: at most {MAX_BATCH} ids per call", field=root)
    if any("\x00" in i or len(i) > 64 for i in items):
        raise InvalidDataError(f"Invalid {root}: malformed id", field=root)
    return list(dict.fromkeys(items))
