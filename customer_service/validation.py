"""Turning raw input into validated models, with errors that name the field.

`invalid_data` is the one place a pydantic error becomes Medusa's `invalid_data` message
(`Invalid request: …`, SPEC §3.4 and §5); the client, the workflows, the worker's failure
converter and the HTTP API all use it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from customer_service.errors import InvalidDataError
from customer_service.schemas import MAX_BATCH

M = TypeVar("M", bound=BaseModel)

# pydantic error types → the JSON type Medusa's messages name ("Expected type: 'string' …")
_EXPECTED_TYPES = {
    "string_type": "string",
    "int_type": "number",
    "int_parsing": "number",
    "float_type": "number",
    "float_parsing": "number",
    "bool_type": "boolean",
    "bool_parsing": "boolean",
    "dict_type": "record",
    "model_type": "object",
    "model_attributes_type": "object",
    "list_type": "array",
    "tuple_type": "array",
}
_VALIDATOR_PREFIXES = ("Value error, ", "Assertion failed, ")


def invalid_data(error: ValidationError, root: str = "") -> InvalidDataError:
    """The first thing pydantic rejected, as Medusa's `Invalid request: …` naming the field.

    `root` is where the validated value sits in the caller's input (`update`, `data[2]`)."""
    first = error.errors()[0]
    location = ".".join(str(p) for p in first["loc"])
    field = ".".join(part for part in (root, location) if part) or error.title
    kind, message = first["type"], first["msg"]
    if kind == "extra_forbidden":
        detail = f"Unrecognized fields: '{field}'"
    elif kind == "missing":
        detail = f"Field '{field}' is required"
    elif kind in _EXPECTED_TYPES:
        got = first.get("input")
        shown = (
            got if isinstance(got, str | int | float | bool) or got is None else type(got).__name__
        )
        detail = f"Expected type: '{_EXPECTED_TYPES[kind]}' for field '{field}', got: '{shown}'"
    else:
        for prefix in _VALIDATOR_PREFIXES:
            message = message.removeprefix(prefix)
        detail = f"Invalid {field}: {message}"
    return InvalidDataError(f"Invalid request: {detail}", field=field)


def validate(model: type[M], value: Any, root: str) -> M:
    """`value` as a `model`, or an `InvalidDataError` naming the field under `root`."""
    if isinstance(value, model):
        return value
    if isinstance(value, BaseModel):
        value = value.model_dump(exclude_unset=True)
    if not isinstance(value, Mapping):
        raise InvalidDataError(
            f"Invalid request: Expected type: 'object' for field '{root}'", field=root
        )
    try:
        return model.model_validate(dict(value))
    except ValidationError as exc:
        raise invalid_data(exc, root) from None


def validate_many(model: type[M], value: Any, root: str) -> tuple[list[M], bool]:
    """One object or a list of them; returns the models and whether the input was a single one."""
    if isinstance(value, list | tuple):
        if len(value) > MAX_BATCH:
            raise InvalidDataError(
                f"Invalid request: at most {MAX_BATCH} items per call for field '{root}'",
                field=root,
            )
        return [validate(model, v, f"{root}[{i}]") for i, v in enumerate(value)], False
    return [validate(model, value, root)], True


def validate_id(value: Any, root: str) -> str:
    """One well-formed id (a non-empty string of at most 64 characters, without NUL)."""
    if not isinstance(value, str) or not value or "\x00" in value or len(value) > 64:
        raise InvalidDataError(f"Invalid request: Field '{root}' must be an id", field=root)
    return value


def validate_optional_id(value: Any, root: str) -> str | None:
    return None if value is None else validate_id(value, root)


def validate_ids(value: Any, root: str = "ids") -> list[str]:
    """An id or a list of ids, de-duplicated in order."""
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list | tuple) or not all(isinstance(i, str) and i for i in items):
        raise InvalidDataError(
            f"Invalid request: Field '{root}' must be an id or a list of ids", field=root
        )
    if len(items) > MAX_BATCH:
        raise InvalidDataError(
            f"Invalid request: at most {MAX_BATCH} ids per call for field '{root}'", field=root
        )
    if any("\x00" in i or len(i) > 64 for i in items):
        raise InvalidDataError(f"Invalid request: Field '{root}' holds a malformed id", field=root)
    return list(dict.fromkeys(items))
