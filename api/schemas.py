"""Request and response models of the HTTP routes (SPEC §5), strict as Medusa's validators:
an unknown key is `Invalid request: Unrecognized fields: '<k>'`. Field types reuse the Customer
Module's (emails, text limits, metadata rules), so the API accepts exactly what the module does."""

from __future__ import annotations

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
    AddressDTO,
    AddressFields,
    CustomerDTO,
    Email,
    EntityId,
    GroupDTO,
    Metadata,
    Name,
    Text,
    UpdateCustomerInput,
    UpdateGroupInput,
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
            # `a[$in]=x` (one value, as qs sends a one-element list without indices) is a list
            lists = {
                op: [v] for op, v in value.items() if op in ("$in", "$nin") and isinstance(v, str)
            }
            return {**value, **lists}
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


class EntityFilters(Strict):
    """What every admin list filters on: free text, ids, the creator and the timestamps."""

    q: Annotated[str, StringConstraints(max_length=1000)] | None = None
    id: Filter = None
    created_by: Values | None = None
    created_at: Filter = None
    updated_at: Filter = None
    deleted_at: Filter = None


class CustomerFilters(EntityFilters):
    email: Values | None = None
    groups: Annotated[Any, _nested("id", "name", *_DATES)] = None
    company_name: Values | None = None
    first_name: Values | None = None
    last_name: Values | None = None
    has_account: BoolString | None = None
    and_: list[CustomerFilters] | None = Field(default=None, alias="$and")
    or_: list[CustomerFilters] | None = Field(default=None, alias="$or")


class AdminCustomersQuery(ListQuery, CustomerFilters):
    pass


class StoreAddressesQuery(ListQuery):
    city: Values | None = None
    country_code: Values | None = None
    postal_code: Values | None = None


class AdminAddressesQuery(StoreAddressesQuery):
    company: Values | None = None
    province: Values | None = None


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


class GroupFilters(EntityFilters):
    name: Values | None = None
    customers: Annotated[Any, _nested(*_CUSTOMER_FILTER_FIELDS)] = None
    and_: list[GroupFilters] | None = Field(default=None, alias="$and")
    or_: list[GroupFilters] | None = Field(default=None, alias="$or")


class AdminGroupsQuery(ListQuery, GroupFilters):
    pass


class ApiKeysQuery(ListQuery):
    type: Literal["secret", "publishable"] | None = None


# --- bodies --------------------------------------------------------------------------------------

AdditionalData = dict[str, Any] | None


class CustomerBody(Strict):
    """POST /store/customers/me: the customer's own fields, never the email."""

    company_name: Text | None = None
    first_name: Text | None = None
    last_name: Text | None = None
    phone: Text | None = None
    metadata: Metadata | None = None


class StoreCreateCustomer(UpdateCustomerInput):
    """POST /store/customers: the module's customer fields (`has_account` is the route's)."""


class AdminCustomerBody(UpdateCustomerInput):
    additional_data: AdditionalData = None


AddressBody = AddressFields  # the module's address fields, without `customer_id` (the route's)


class AdminAddressBody(AddressFields):
    additional_data: AdditionalData = None


class GroupCreateBody(Strict):
    name: Name
    metadata: Metadata | None = None


GroupUpdateBody = UpdateGroupInput


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


# Entities are the module's DTOs: every field optional, a response holds what `fields` selected.


class CustomerResponse(BaseModel):
    customer: CustomerDTO


class CustomersResponse(BaseModel):
    customers: list[CustomerDTO]
    count: int
    offset: int
    limit: int


class AddressResponse(BaseModel):
    address: AddressDTO


class AddressesResponse(BaseModel):
    addresses: list[AddressDTO]
    count: int
    offset: int
    limit: int


class GroupResponse(BaseModel):
    customer_group: GroupDTO


class GroupsResponse(BaseModel):
    customer_groups: list[GroupDTO]
    count: int
    offset: int
    limit: int


class DeleteResponse(BaseModel):
    id: str
    object: str
    deleted: bool


class DeleteWithParentResponse(DeleteResponse):
    parent: CustomerDTO


class TokenResponse(BaseModel):
    token: str


class Started(BaseModel):
    """The answer to `Prefer: respond-async` (status 202, `Location` names the run route)."""

    workflow_id: str
    run_id: str | None
