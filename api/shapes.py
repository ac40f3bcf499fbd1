"""Default fields, relations and allow-lists of the routes (SPEC §5.1–5.4), and the reads that
answer with them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from api.query import Shape, filters_of, find_config
from customer_service import CustomerModuleService
from customer_service.errors import NotFoundError
from customer_service.schemas import DTO

_TIMES = ("created_at", "updated_at")
CUSTOMER_FIELDS = (
    "id",
    "company_name",
    "first_name",
    "last_name",
    "email",
    "phone",
    "metadata",
    "has_account",
    "created_by",
    *_TIMES,
    "deleted_at",
)
ADDRESS_FIELDS = (
    "id",
    "address_name",
    "company",
    "customer_id",
    "first_name",
    "last_name",
    "address_1",
    "address_2",
    "city",
    "province",
    "postal_code",
    "country_code",
    "phone",
    "metadata",
    *_TIMES,
)
ADDRESS_FLAGS = ("is_default_shipping", "is_default_billing")
GROUP_FIELDS = ("id", "name", "created_by", *_TIMES, "deleted_at", "metadata")
STORE_CUSTOMER_FIELDS = tuple(f for f in CUSTOMER_FIELDS if f != "created_by")
STORE_ADDRESS_FIELDS = (*ADDRESS_FIELDS, *ADDRESS_FLAGS)


def _shape(
    defaults: tuple[str, ...],
    relations: Mapping[str, tuple[str, ...]],
    selectable: tuple[str, ...] = (),
    *,
    strict: bool = True,
) -> Shape:
    """A route's shape: what `fields` may name is the defaults, `selectable` and every column of
    the relations; admin shapes (`strict`) refuse anything else, store shapes drop it."""
    own = [f for f in (*defaults, *selectable) if f not in relations]
    nested = [f"{rel}.{column}" for rel, columns in relations.items() for column in columns]
    return Shape(defaults, relations, frozenset([*own, *nested]), strict)


ADMIN_CUSTOMER = _shape(
    CUSTOMER_FIELDS,
    {"addresses": (*ADDRESS_FIELDS, *ADDRESS_FLAGS, "deleted_at"), "groups": GROUP_FIELDS},
)
ADMIN_ADDRESS = _shape(
    ADDRESS_FIELDS, {"customer": CUSTOMER_FIELDS}, (*ADDRESS_FLAGS, "deleted_at")
)
ADMIN_GROUP = _shape(GROUP_FIELDS, {"customers": CUSTOMER_FIELDS})
STORE_CUSTOMER = _shape(
    (*STORE_CUSTOMER_FIELDS, "addresses"), {"addresses": STORE_ADDRESS_FIELDS}, strict=False
)
STORE_ADDRESS = _shape(STORE_ADDRESS_FIELDS, {}, strict=False)

# A list's `count` is exact up to this many rows, an estimate above it (decision 14).
EXACT_COUNT_LIMIT = 1_000


def dump(dto: DTO) -> dict[str, Any]:
    return dto.model_dump(mode="json")


async def read_one(
    retrieve: Callable[[str, Any], Awaitable[DTO]],
    entity_id: str,
    query: Mapping[str, Any],
    shape: Shape,
    not_found: str | None = None,
) -> dict[str, Any]:
    """One entity with the route's fields; `not_found` rewords the 404 as the route does."""
    try:
        dto = await retrieve(entity_id, find_config(query, shape, paged=False))
    except NotFoundError as exc:
        if not_found is None:
            raise
        raise NotFoundError(not_found, field="id") from exc
    return dump(dto)


async def read_page(
    list_and_count: Callable[[Any, Any], Awaitable[tuple[list[Any], int]]],
    plural: str,
    query: Mapping[str, Any],
    shape: Shape,
    fixed: Mapping[str, Any] | None = None,
    order_allowed: tuple[str, ...] | None = None,
) -> dict[str, Any]:
    """A list envelope `{<plural>, count, offset, limit}` (SPEC §3.4); `count` above
    EXACT_COUNT_LIMIT is an estimate (decision 14)."""
    config = find_config(query, shape, order_allowed=order_allowed).model_copy(
        update={"exact_count_limit": EXACT_COUNT_LIMIT}
    )
    rows, count = await list_and_count(filters_of(query, fixed), config)
    return {
        plural: [dump(r) for r in rows],
        "count": count,
        "offset": query.get("offset", 0),
        "limit": query.get("limit", 50),
    }


async def owned_address(
    service: CustomerModuleService,
    customer_id: str,
    address_id: str,
    query: Mapping[str, Any],
    shape: Shape,
) -> dict[str, Any]:
    """The customer's address, or 404 — also when it belongs to someone else (decision 5)."""
    config = find_config(query, shape, paged=False)
    rows, _ = await service.list_and_count_customer_addresses(
        {"id": address_id, "customer_id": customer_id}, config
    )
    if not rows:
        raise NotFoundError(f"Address with id: {address_id} was not found", field="address_id")
    return dump(rows[0])
