"""The entity registry: one `EntitySpec` per entity of the Customer Module.

Everything that differs between customers, addresses, groups and memberships — table, Medusa's
name, id prefix, DTO, create/update inputs, internal event name, relations, searchable columns —
is read from here; the service, the queries, the filters, the events and the error edge hold no
parallel maps.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel
from sqlalchemy import ColumnElement, Table, Text, exists, literal_column, select
from sqlalchemy.orm import InstrumentedAttribute

from customer_service import ids
from customer_service import models as m
from customer_service.errors import NotFoundError
from customer_service.schemas import (
    DTO,
    AddressDTO,
    CreateAddressInput,
    CreateCustomerInput,
    CreateGroupInput,
    CustomerDTO,
    GroupDTO,
    MembershipDTO,
    MembershipInput,
    UpdateAddressInput,
    UpdateCustomerInput,
    UpdateGroupInput,
)

D = TypeVar("D", bound=DTO)
EntityKey = Literal["customer", "address", "group", "membership"]
RelationFilter = Callable[[ColumnElement[bool]], ColumnElement[bool]]


@dataclass(frozen=True, eq=False)
class EntitySpec(Generic[D]):
    key: EntityKey
    model: type[m.Base]
    name: str  # class name, as in Medusa messages: "CustomerAddress"
    words: str  # "Customer address", as in Medusa's unique-violation messages
    prefix: str  # id prefix: "cuaddr"
    dto: type[D]
    create_input: type[BaseModel]
    update_input: type[BaseModel] | None
    event_name: str  # internal events: customer.<event_name>.<action>
    search_columns: tuple[str, ...] = ()
    # relation name → key of the related entity, as `config.relations` loads it
    relations: Mapping[str, str] = field(default_factory=dict)
    # relation name → (key of the related entity, EXISTS over its live rows), for filters
    filter_relations: Mapping[str, tuple[str, RelationFilter]] = field(default_factory=dict)

    @property
    def table(self) -> Table:
        return m.table_of(self.model)

    @cached_property
    def columns(self) -> dict[str, InstrumentedAttribute[Any]]:
        mapper = self.model.__mapper__
        return {
            ("metadata" if attr.key == "metadata_" else attr.key): getattr(self.model, attr.key)
            for attr in mapper.column_attrs
        }

    def column(self, name: str) -> InstrumentedAttribute[Any] | None:
        return self.columns.get(name)

    def live(self) -> ColumnElement[bool]:
        return self.table.c.deleted_at.is_(None)

    def search_document(self) -> ColumnElement[str]:
        sql = m.search_document_sql(self.search_columns, self.model.__tablename__)
        return literal_column(f"({sql})", Text)

    def not_found(self, missing: list[str], field: str) -> NotFoundError:
        """Decision 5: no silent no-op on a bad id."""
        return NotFoundError(f'{self.name} with id "{", ".join(missing)}" not found', field=field)


# --- relation filters: EXISTS over live rows of the related table ---------------------------

_C, _A, _G, _P = m.Customer, m.CustomerAddress, m.CustomerGroup, m.CustomerGroupCustomer


def _customer_groups(cond: ColumnElement[bool]) -> ColumnElement[bool]:
    return exists(
        select(1)
        .select_from(_P)
        .join(_G, _G.id == _P.customer_group_id)
        .where(_P.customer_id == _C.id, _P.deleted_at.is_(None), _G.deleted_at.is_(None), cond)
    )


def _group_customers(cond: ColumnElement[bool]) -> ColumnElement[bool]:
    return exists(
        select(1)
        .select_from(_P)
        .join(_C, _C.id == _P.customer_id)
        .where(
            _P.customer_group_id == _G.id, _P.deleted_at.is_(None), _C.deleted_at.is_(None), cond
        )
    )


def _address_customer(cond: ColumnElement[bool]) -> ColumnElement[bool]:
    return exists(select(1).where(_C.id == _A.customer_id, _C.deleted_at.is_(None), cond))


def _membership_customer(cond: ColumnElement[bool]) -> ColumnElement[bool]:
    return exists(select(1).where(_C.id == _P.customer_id, _C.deleted_at.is_(None), cond))


def _membership_group(cond: ColumnElement[bool]) -> ColumnElement[bool]:
    return exists(select(1).where(_G.id == _P.customer_group_id, _G.deleted_at.is_(None), cond))


CUSTOMER: EntitySpec[CustomerDTO] = EntitySpec(
    key="customer",
    model=m.Customer,
    name="Customer",
    words="Customer",
    prefix=ids.CUSTOMER,
    dto=CustomerDTO,
    create_input=CreateCustomerInput,
    update_input=UpdateCustomerInput,
    event_name="customer",
    search_columns=m.CUSTOMER_SEARCH_COLUMNS,
    relations={"addresses": "address", "groups": "group"},
    filter_relations={"groups": ("group", _customer_groups)},
)
ADDRESS: EntitySpec[AddressDTO] = EntitySpec(
    key="address",
    model=m.CustomerAddress,
    name="CustomerAddress",
    words="Customer address",
    prefix=ids.ADDRESS,
    dto=AddressDTO,
    create_input=CreateAddressInput,
    update_input=UpdateAddressInput,
    event_name="customer-address",
    search_columns=m.ADDRESS_SEARCH_COLUMNS,
    relations={"customer": "customer"},
    filter_relations={"customer": ("customer", _address_customer)},
)
GROUP: EntitySpec[GroupDTO] = EntitySpec(
    key="group",
    model=m.CustomerGroup,
    name="CustomerGroup",
    words="Customer group",
    prefix=ids.GROUP,
    dto=GroupDTO,
    create_input=CreateGroupInput,
    update_input=UpdateGroupInput,
    event_name="customer-group",
    search_columns=m.GROUP_SEARCH_COLUMNS,
    relations={"customers": "customer"},
    filter_relations={"customers": ("customer", _group_customers)},
)
MEMBERSHIP: EntitySpec[MembershipDTO] = EntitySpec(
    key="membership",
    model=m.CustomerGroupCustomer,
    name="CustomerGroupCustomer",
    words="Customer group customer",
    prefix=ids.MEMBERSHIP,
    dto=MembershipDTO,
    create_input=MembershipInput,
    update_input=None,
    event_name="customer-group-customer",
    relations={"customer": "customer", "customer_group": "group"},
    filter_relations={
        "customer": ("customer", _membership_customer),
        "group": ("group", _membership_group),
    },
)

SPECS: dict[str, EntitySpec[Any]] = {s.key: s for s in (CUSTOMER, ADDRESS, GROUP, MEMBERSHIP)}
BY_TABLE: dict[str, EntitySpec[Any]] = {s.table.name: s for s in SPECS.values()}
