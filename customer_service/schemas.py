"""Input and output models (DTOs) of the Customer Module.

Inputs reject unknown fields and validate shapes; outputs are plain data, never ORM objects.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StringConstraints,
)
from pydantic_core import to_json

from customer_service.countries import ISO_3166_ALPHA2

MAX_TEXT = 255
MAX_EMAIL = 320
MAX_METADATA_BYTES = 16 * 1024
MAX_METADATA_DEPTH = 5
# Any other free-form JSON a caller sends (a workflow's selector, update and additional_data).
MAX_JSON_DEPTH = 32
MAX_ADDITIONAL_DATA_BYTES = 64 * 1024
MAX_BATCH = 10_000
# Temporal stores each payload whole (the server refuses one over 2 MiB): a run's serialized
# input is capped, so is one step's result, and so the rows one selector may update.
MAX_INPUT_BYTES = 512 * 1024
MAX_RESULT_BYTES = 1024 * 1024
MAX_SELECTED_ROWS = 1_000
MAX_PAGE = 10_000
MAX_SKIP = 2**63 - 1  # PostgreSQL OFFSET is a bigint


def too_large(result: Any, limit: int = MAX_RESULT_BYTES) -> bool:
    """Whether `result`, as the JSON Temporal will carry, exceeds `limit` bytes."""
    return len(to_json(result)) > limit


_EMAIL = re.compile(
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@"
    r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$"
)


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


def _strip(value: Any) -> Any:
    return value.strip() if isinstance(value, str) else value


def _email(value: str) -> str:
    if len(value) > MAX_EMAIL or not _EMAIL.match(value) or ".." in value.split("@")[0]:
        raise ValueError("is not a valid email address")
    return value


def _country(value: str) -> str:
    """Decision 11: an ISO 3166-1 alpha-2 code in any case, stored lower-case."""
    code = value.lower()
    if code not in ISO_3166_ALPHA2:
        raise ValueError("must be an ISO 3166-1 alpha-2 country code")
    return code


def nesting_exceeds(value: Any, limit: int) -> bool:
    """Whether dicts / lists in `value` nest more than `limit` levels. Iterative, and it stops at
    the first level past `limit`, so any depth is answered without recursion (json.dumps and
    the data converter recurse, and fail with RecursionError about 1,000 levels down)."""
    pending: list[tuple[Any, int]] = [(value, 0)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list | tuple):
            children = item
        else:
            continue
        if depth + 1 > limit:
            return True
        pending.extend((child, depth + 1) for child in children)
    return False


def _json_within(value: Any, max_depth: int, max_bytes: int | None) -> Any:
    """Depth first (without recursion), then what needs an encoding: JSON-serialisable, size."""
    if nesting_exceeds(value, max_depth):
        raise ValueError(f"must be nested at most {max_depth} levels deep")
    if max_bytes is not None:
        try:
            encoded = json.dumps(value, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise ValueError("must be JSON-serialisable") from exc
        if len(encoded.encode()) > max_bytes:
            raise ValueError(f"must be at most {max_bytes} bytes as JSON")
    return value


def _metadata(value: dict[str, Any]) -> dict[str, Any]:
    _json_within(value, MAX_METADATA_DEPTH, MAX_METADATA_BYTES)
    if "\\u0000" in json.dumps(value):
        raise ValueError("must not contain NUL characters")
    return value


def _json_object(value: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = _json_within(value, MAX_JSON_DEPTH, None)
    return result


def _additional_data(value: dict[str, Any]) -> dict[str, Any]:
    # Like metadata, no NUL: it travels to every hook and event, which PostgreSQL's JSON refuses.
    result: dict[str, Any] = _json_within(value, MAX_JSON_DEPTH, MAX_ADDITIONAL_DATA_BYTES)
    if "\\u0000" in json.dumps(value):
        raise ValueError("must not contain NUL characters")
    return result


Text = Annotated[str, StringConstraints(max_length=MAX_TEXT), AfterValidator(_no_nul)]
Name = Annotated[str, StringConstraints(min_length=1, max_length=MAX_TEXT), AfterValidator(_no_nul)]
Email = Annotated[str, BeforeValidator(_strip), AfterValidator(_email)]
CountryCode = Annotated[str, AfterValidator(_country)]
Metadata = Annotated[dict[str, Any], AfterValidator(_metadata)]
JsonObject = Annotated[dict[str, Any], AfterValidator(_json_object)]
AdditionalData = Annotated[dict[str, Any], AfterValidator(_additional_data)]
EntityId = Annotated[str, StringConstraints(min_length=1, max_length=64), AfterValidator(_no_nul)]
# A workflow run's "<workflow id>:<run id>" (Temporal ids are at most 1000 characters).
EventGroupId = Annotated[
    str, StringConstraints(min_length=1, max_length=1100), AfterValidator(_no_nul)
]


class Input(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --- addresses -------------------------------------------------------------------------------


class AddressFields(Input):
    address_name: Text | None = None
    is_default_shipping: StrictBool = False
    is_default_billing: StrictBool = False
    company: Text | None = None
    first_name: Text | None = None
    last_name: Text | None = None
    address_1: Text | None = None
    address_2: Text | None = None
    city: Text | None = None
    country_code: CountryCode | None = None
    province: Text | None = None
    postal_code: Text | None = None
    phone: Text | None = None
    metadata: Metadata | None = None


class NestedAddressInput(AddressFields):
    """An address created together with its customer (no `customer_id`)."""

    id: EntityId | None = None


class CreateAddressInput(AddressFields):
    id: EntityId | None = None
    customer_id: EntityId


class UpdateAddressInput(Input):
    customer_id: EntityId | None = None
    address_name: Text | None = None
    is_default_shipping: StrictBool | None = None
    is_default_billing: StrictBool | None = None
    company: Text | None = None
    first_name: Text | None = None
    last_name: Text | None = None
    address_1: Text | None = None
    address_2: Text | None = None
    city: Text | None = None
    country_code: CountryCode | None = None
    province: Text | None = None
    postal_code: Text | None = None
    phone: Text | None = None
    metadata: Metadata | None = None


# --- customers -------------------------------------------------------------------------------


class CreateCustomerInput(Input):
    id: EntityId | None = None
    company_name: Text | None = None
    first_name: Text | None = None
    last_name: Text | None = None
    email: Email | None = None
    phone: Text | None = None
    has_account: StrictBool = False
    auth_identity_id: EntityId | None = None
    metadata: Metadata | None = None
    created_by: Text | None = None
    addresses: Annotated[list[NestedAddressInput], Field(max_length=100)] = []


class UpdateCustomerInput(Input):
    company_name: Text | None = None
    first_name: Text | None = None
    last_name: Text | None = None
    email: Email | None = None
    phone: Text | None = None
    metadata: Metadata | None = None


# --- groups ----------------------------------------------------------------------------------


class CreateGroupInput(Input):
    id: EntityId | None = None
    name: Name
    metadata: Metadata | None = None
    created_by: Text | None = None


class UpdateGroupInput(Input):
    name: Name | None = None
    metadata: Metadata | None = None


class MembershipInput(Input):
    customer_id: EntityId
    customer_group_id: EntityId
    id: EntityId | None = None
    created_by: Text | None = None
    metadata: Metadata | None = None


# --- reads -----------------------------------------------------------------------------------


class FindConfig(Input):
    """Paging, ordering and shape of a list (SPEC §3.3)."""

    skip: Annotated[int, Field(ge=0, le=MAX_SKIP)] | None = None
    take: Annotated[int, Field(ge=0, le=MAX_PAGE)] | None = None
    order: dict[str, Literal["ASC", "DESC", "asc", "desc"]] | None = None
    select: list[str] | None = None
    relations: list[str] | None = None
    with_deleted: StrictBool = False
    # list_and_count: count exactly up to this many rows, estimate above (decision 14); the
    # default None counts exactly, as Medusa does.
    exact_count_limit: Annotated[int, Field(ge=0)] | None = None


# --- outputs ---------------------------------------------------------------------------------


class DTO(BaseModel):
    """Output object. With `select`, only the selected fields are set (see `model_dump`)."""

    model_config = ConfigDict(frozen=True)

    id: str | None = None

    def model_dump(self, **kwargs: Any) -> dict[str, Any]:
        kwargs.setdefault("exclude_unset", True)
        return super().model_dump(**kwargs)


class GroupRefDTO(DTO):
    id: str | None = None
    name: str | None = None


class AddressDTO(DTO):
    id: str | None = None
    customer_id: str | None = None
    address_name: str | None = None
    is_default_shipping: bool | None = None
    is_default_billing: bool | None = None
    company: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    address_1: str | None = None
    address_2: str | None = None
    city: str | None = None
    country_code: str | None = None
    province: str | None = None
    postal_code: str | None = None
    phone: str | None = None
    metadata: dict[str, Any] | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    deleted_at: datetime | None = None
    customer: CustomerDTO | None = None


class CustomerDTO(DTO):
    id: str | None = None
    email: str | None = None
    has_account: bool | None = None
    company_name: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    phone: str | None = None
    auth_identity_id: str | None = None
    metadata: dict[str, Any] | None = None
    created_by: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    deleted_at: datetime | None = None
    addresses: list[AddressDTO] | None = None
    groups: list[GroupRefDTO] | None = None


class GroupDTO(DTO):
    id: str | None = None
    name: str | None = None
    metadata: dict[str, Any] | None = None
    created_by: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    deleted_at: datetime | None = None
    customers: list[CustomerDTO] | None = None


class MembershipDTO(DTO):
    id: str | None = None
    customer_id: str | None = None
    customer_group_id: str | None = None
    created_by: str | None = None
    metadata: dict[str, Any] | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    deleted_at: datetime | None = None
    customer: CustomerDTO | None = None
    customer_group: GroupDTO | None = None


AddressDTO.model_rebuild()


# --- workflow-facing operations --------------------------------------------------------------


class WriteContext(Input):
    """What a workflow step adds to a write: an idempotency key and the run's event group.

    `operation_id` makes a non-idempotent write return its recorded result when repeated;
    `event_group_id` stages the workflow event (`customer.created` …) in the same transaction;
    `release` (the run's pivot, when nothing after it can fail) releases every event the run
    staged in that same transaction, so no later step has to.
    """

    operation_id: EntityId | None = None
    event_group_id: EventGroupId | None = None
    release: bool = False
    # The largest result (as JSON) the caller can take: a workflow step's result travels in a
    # Temporal payload. Checked inside the transaction, so a larger one rolls back, typed.
    max_result_bytes: int | None = None


class MembershipChange(BaseModel):
    """Pairs a link operation really changed (decision 2), for an exact compensation."""

    added: list[tuple[str, str]] = []
    removed: list[tuple[str, str]] = []
    membership_ids: list[str] = []
    added_ids: list[str] = []  # the membership rows this operation created
