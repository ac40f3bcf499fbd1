"""Rows of an import file → create inputs, each validated exactly as a single create validates
its customer (`CreateCustomerInput` through `customer_service.validation`: same rules, same
messages), with the file's column as the field of a row error.

A batch's rows are parsed in one pass with no work repeated per row that can be done once per
batch (a group name is validated once, whatever number of rows name it)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

from pydantic import BaseModel, ConfigDict

from customer_service.errors import CustomerModuleError, InvalidDataError
from customer_service.schemas import AddressFields, CreateCustomerInput, CreateGroupInput
from customer_service.validation import validate

CUSTOMER_FIELDS = ("email", "first_name", "last_name", "company_name", "phone", "metadata")
ADDRESS_PREFIX = "address."
ADDRESS_FIELDS = tuple(AddressFields.model_fields)
GROUPS_COLUMN = "groups"
GROUP_SEPARATOR = "|"
UNREADABLE = (
    "Invalid request: the row is not a JSON object, or has more or fewer cells than the header"
)
_FLAGS = ("is_default_shipping", "is_default_billing")
_BOOLEANS = {"true": True, "false": False}


class RowError(BaseModel):
    model_config = ConfigDict(frozen=True)

    row: int  # 1-based data row of the file (the header is not counted)
    field: str
    message: str


class ParsedRow(NamedTuple):
    row: int
    customer: CreateCustomerInput
    groups: list[str]


def _flatten(raw: Mapping[str, Any]) -> Mapping[str, Any]:
    """A JSON Lines object may nest `address` as an object; CSV columns are flat."""
    if "address" not in raw:
        return raw
    flat = {k: v for k, v in raw.items() if k != "address"}
    nested = raw["address"]
    if isinstance(nested, Mapping):
        flat.update({f"{ADDRESS_PREFIX}{k}": v for k, v in nested.items()})
    elif nested is not None:
        flat[f"{ADDRESS_PREFIX}*"] = nested
    return flat


def _column(field: str | None) -> str:
    """The file column a validation error is about (`addresses.0.city` → `address.city`)."""
    field = field or ""
    return (
        ADDRESS_PREFIX + field.removeprefix("addresses.0.") if field.startswith("addr") else field
    )


class _Parser:
    """Parses the rows of one batch; remembers each group name's validation."""

    def __init__(self) -> None:
        self.group_names: dict[str, str | InvalidDataError] = {}

    def row(self, raw: Mapping[str, Any]) -> tuple[CreateCustomerInput, list[str]]:
        """One file row as a create input and its group names, or an `InvalidDataError` naming
        the column. An empty value (`""`, null) means "not given"."""
        data: dict[str, Any] = {}
        address: dict[str, Any] = {}
        groups: Any = []
        for key, value in _flatten(raw).items():
            if value is None or value == "":
                continue
            if key == GROUPS_COLUMN:
                groups = value
            elif key.startswith(ADDRESS_PREFIX):
                address[key[len(ADDRESS_PREFIX) :]] = value
            else:
                data[key] = value
        if isinstance(data.get("metadata"), str):
            try:
                data["metadata"] = json.loads(data["metadata"])
            except json.JSONDecodeError:
                raise InvalidDataError(
                    "Invalid request: Invalid metadata: not a JSON object", field="metadata"
                ) from None
        if address:
            for flag in _FLAGS:
                if isinstance(address.get(flag), str):
                    address[flag] = _BOOLEANS.get(address[flag].lower(), address[flag])
            data["addresses"] = [address]
        try:
            customer = validate(CreateCustomerInput, data, "")
        except InvalidDataError as exc:
            raise InvalidDataError(exc.message, field=_column(exc.field)) from None
        return customer, self.groups(groups)

    def groups(self, groups: Any) -> list[str]:
        if isinstance(groups, str):
            groups = [g.strip() for g in groups.split(GROUP_SEPARATOR) if g.strip()]
        if not isinstance(groups, list):
            raise InvalidDataError(
                "Invalid request: Expected type: 'array' for field 'groups'", field=GROUPS_COLUMN
            )
        return list(dict.fromkeys(self.group(g) for g in groups))

    def group(self, name: Any) -> str:
        if not isinstance(name, str):
            return validate(CreateGroupInput, {"name": name}, GROUPS_COLUMN).name
        known = self.group_names.get(name)
        if known is None:
            try:
                known = validate(CreateGroupInput, {"name": name}, GROUPS_COLUMN).name
            except InvalidDataError as exc:
                known = exc
            self.group_names[name] = known
        if isinstance(known, InvalidDataError):
            raise InvalidDataError(known.message, field=known.field)
        return known


def parse_rows(
    rows: Sequence[tuple[int, Mapping[str, Any] | None]],
) -> tuple[list[ParsedRow], list[RowError]]:
    """A batch's rows (row number, raw values or None for an unreadable row) as create inputs
    and their group names; every row that is not valid is a row error, in row order."""
    parser = _Parser()
    parsed: list[ParsedRow] = []
    errors: list[RowError] = []
    for number, raw in rows:
        if raw is None:
            errors.append(RowError(row=number, field="", message=UNREADABLE))
            continue
        try:
            customer, groups = parser.row(raw)
        except CustomerModuleError as exc:
            errors.append(RowError(row=number, field=exc.field, message=exc.message))
            continue
        parsed.append(ParsedRow(number, customer, groups))
    return parsed, errors
