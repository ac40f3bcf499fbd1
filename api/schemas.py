"""Request and response models of the HTTP routes (SPEC §5), strict as Medusa's validators:
an unknown key is `Invalid request: Unrecognized fields: '<k>'`. Field types reuse the Customer
Module's (emails, text limits, metadata rules), so the API accepts exactly what the module does."""

from __future__ import annotations

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

from customer_service.schemas import (
    MAX_BATCH,
    MAX_PAGE,
    MAX_SKIP,
    CountryCode,
    Email,
    EntityId,
    Metadata,
    Name,
    Text,
)

OPERATORS = frozenset(
    {
        "$eq",
        "$ne",
        "$in",
        "$nin",
        "$like",
        "$ilike",
        "$re",
        "$contains",
        "$gt",
        "$gte",
        "$lt",
        "$lte",
    }
)


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _bool_string(value: Any) -> Any:
    """Medusa's booleanString: `true` / `false` in any case, or a boolean."""
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return value


def _is_values(value: Any) -> bool:
    return isinstance(value, str) or (
        isinstance(value, list) and all(isinstance(v, str) for v in value)
    )


def _filter(value: Any) -> Any:
    """A value, a list of values, or an operator map of them."""
    if _is_values(value):
        return value
    if isinstance(value, dict):
        unknown = sorted(set(value) - OPERATORS)
        if unknown:
            raise ValueError(f"unknown operator '{unknown[0]}'")
        if all(_is_values(v) for v in value.values()):
            return value
    raise ValueError("expected a value, a list of values or an operator map")


def _nested(*fields: str) -> Any:
    """An id, a list of ids, or an object filtering the related entity on `fields`."""

    def check(value: Any) -> Any:
        if not isinstance(value, dict):
            return _filter(value)
        unknown = sorted(set(value) - set(fields))
        if unknown:
            raise ValueError(f"unknown field '{unknown[0]}'")
        return {k: _filter(v) for k, v in value.items()}

    return AfterValidator(check)


BoolString = Annotated[StrictBool, BeforeValidator(_bool_string)]
Filter = Annotated[Any, AfterValidator(_filter)]
Values = Annotated[str | list[str], Field(union_mode="left_to_right")]


# --- queries -------------------------------------------------------------------------------------


class FieldsQuery(Strict):
    fields: str | None = None


class ListQuery(FieldsQuery):
    offset: Annotated[int, Field(ge=0, le=MAX_SKIP)] = 0
    limit: Annotated[int, Field(ge=0, le=MAX_PAGE)] = 50
    order: Annotated[str, StringConstraints(max_length=100)] | None = None
    with_deleted: BoolString | None = None
    q: Annotated[str, StringConstraints(max_length=1000)] | None = None


_DATES = ("created_at", "updated_at", "deleted_at")


class CustomerFilters(Strict):
    q: Annotated[str, StringConstraints(max_length=1000)] | None = None
    id: Filter = None
    email: Values | None = None
    groups: Annotated[Any, _nested("id", "name", *_DATES)] = None
    company_name: Values | None = None
    first_name: Values | None = None
    last_name: Values | None = None
    has_account: BoolString | None = None
    created_by: Values | None = None
    created_at: Filter = None
    updated_at: Filter = None
    deleted_at: Filter = None
    and_: list[CustomerFilters] | None = Field(default=None, alias="$and")
    or_: list[CustomerFilters] | None = Field(default=None, alias="$or")


class AdminCustomersQuery(ListQuery, CustomerFilters):
    pass


class AdminAddressesQuery(ListQuery):
    company: Values | None = None
    city: Values | None = None
    country_code: Values | None = None
    province: Values | None = None
    postal_code: Values | None = None


class StoreAddressesQuery(ListQuery):
    city: Values | None = None
    country_code: Values | None = None
    postal_code: Values | None = None


_CUSTOMER_FILTER_FIELDS = (
    "id",
    "email",
    "default_billing_address_id",
    "default_shipping_address_id",
    "company_name",
    "first_name",
    "last_name",
    "created_by",
    *_DATES,
)


class GroupFilters(Strict):
    q: Annotated[str, StringConstraints(max_length=1000)] | None = None
    id: Filter = None
    name: Values | None = None
    customers: Annotated[Any, _nested(*_CUSTOMER_FILTER_FIELDS)] = None
    created_by: Values | None = None
    created_at: Filter = None
    updated_at: Filter = None
    deleted_at: Filter = None
    and_: list[GroupFilters] | None = Field(default=None, alias="$and")
    or_: list[GroupFilters] | None = Field(default=None, alias="$or")


class AdminGroupsQuery(ListQuery, GroupFilters):
    pass


class ApiKeysQuery(ListQuery):
    type: Literal["secret", "publishable"] | None = None


# --- bodies --------------------------------------------------------------------------------------

AdditionalData = dict[str, Any] | None


class CustomerBody(Strict):
    company_name: Text | None = None
    first_name: Text | None = None
    last_name: Text | None = None
    phone: Text | None = None
    metadata: Metadata | None = None


class StoreCreateCustomer(CustomerBody):
    email: Email | None = None


class AdminCustomerBody(StoreCreateCustomer):
    additional_data: AdditionalData = None


class AddressBody(Strict):
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


class AdminAddressBody(AddressBody):
    additional_data: AdditionalData = None


class GroupCreateBody(Strict):
    name: Name
    metadata: Metadata | None = None


class GroupUpdateBody(Strict):
    name: Name | None = None
    metadata: Metadata | None = None


class LinkBody(Strict):
    add: Annotated[list[EntityId], Field(max_length=MAX_BATCH)] | None = None
    remove: Annotated[list[EntityId], Field(max_length=MAX_BATCH)] | None = None


class ApiKeyCreateBody(Strict):
    title: Name
    type: Literal["secret", "publishable"]


class EmailPassBody(Strict):
    email: Email
    password: Annotated[str, StringConstraints(min_length=1, max_length=1024)]


# --- responses (every field optional: `fields` decides what a response holds) ------------------


class Out(BaseModel):
    model_config = ConfigDict(extra="allow")


class GroupOut(Out):
    id: str
    name: str | None = None
    metadata: dict[str, Any] | None = None
    created_by: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    deleted_at: datetime | None = None


class AddressOut(Out):
    id: str
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


class CustomerOut(Out):
    id: str
    email: str | None = None
    company_name: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    phone: str | None = None
    metadata: dict[str, Any] | None = None
    has_account: bool | None = None
    created_by: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    deleted_at: datetime | None = None
    addresses: list[AddressOut] | None = None
    groups: list[GroupOut] | None = None


class CustomerResponse(BaseModel):
    customer: CustomerOut


class CustomersResponse(BaseModel):
    customers: list[CustomerOut]
    count: int
    offset: int
    limit: int


class AddressResponse(BaseModel):
    address: AddressOut


class AddressesResponse(BaseModel):
    addresses: list[AddressOut]
    count: int
    offset: int
    limit: int


class GroupResponse(BaseModel):
    customer_group: GroupOut


class GroupsResponse(BaseModel):
    customer_groups: list[GroupOut]
    count: int
    offset: int
    limit: int


class DeleteResponse(BaseModel):
    id: str
    object: str
    deleted: bool


class DeleteWithParentResponse(DeleteResponse):
    parent: CustomerOut


class TokenResponse(BaseModel):
    token: str


class Started(BaseModel):
    """The answer to `Prefer: respond-async` (status 202, `Location` names the run route)."""

    workflow_id: str
    run_id: str | None
