"""What a write addresses and how it answers: a `Target` (ids, or a filter capped at
MAX_SELECTED_ROWS rows), a workflow step's context, and one item back for one item in."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from customer_service.errors import InvalidDataError
from customer_service.schemas import MAX_SELECTED_ROWS, WriteContext
from customer_service.validation import validate, validate_ids

T = TypeVar("T")
Selector = str | Sequence[str] | Mapping[str, Any]


@dataclass(frozen=True)
class Target:
    """The rows a write addresses: `ids` (each must name a row) or a filter `where`. `field` is
    the input field an error about the ids names ("id" for one, "ids" for a list)."""

    ids: list[str] | None = None
    where: Mapping[str, Any] | None = None
    field: str = "ids"

    @classmethod
    def of(
        cls, value: object, *, selector: bool = True, strict: bool = False
    ) -> tuple[Target, bool]:
        """`value` (an id, a list of ids or, with `selector`, a filter) and whether it was one
        id: the one place where "one or many" is decided for writes. `strict`: anything else is
        a bad selector (else: bad ids)."""
        if selector and isinstance(value, Mapping):
            return cls(where=value), False
        if strict and not isinstance(value, str | list | tuple):
            raise InvalidDataError(
                "Invalid selector: expected an id, ids or a filter", field="selector"
            )
        if isinstance(value, str):
            return cls(ids=validate_ids(value, "id"), field="id"), True
        return cls(ids=validate_ids(value, "ids")), False


def refuse_wide(matched: int, verb: str) -> None:
    """A filter selector may address at most MAX_SELECTED_ROWS rows (one run's payload)."""
    if matched > MAX_SELECTED_ROWS:
        raise InvalidDataError(
            f"Invalid selector: it matches more than {MAX_SELECTED_ROWS} rows; "
            f"{verb} them in smaller batches",
            field="selector",
        )


def context(ctx: WriteContext | Mapping[str, Any] | None) -> WriteContext:
    """A workflow step's context (none for a plain call)."""
    return WriteContext() if ctx is None else validate(WriteContext, ctx, "ctx")


def one_or_many(out: list[T], single: bool) -> T | list[T]:
    """The facade answers one item for one item in."""
    return out[0] if single else out
