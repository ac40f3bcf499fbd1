"""`CustomerModuleService`: the only write path to the customer tables (SPEC §2).

A thin facade with Medusa's method names. It validates raw input and decides "one or many" at
this edge; the entity modules behind it take lists of validated models. Every method is one
transaction. Methods that workflows call at least once take a `WriteContext`: its `operation_id`
makes a repeated call return the first call's recorded result (and lets `undo_*` undo exactly
that), its `event_group_id` stages the workflow event in the same transaction as the change.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, overload

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from customer_service.entities import ADDRESS, CUSTOMER, GROUP, MEMBERSHIP, D
from customer_service.errors import InvalidDataError
from customer_service.oplog import DefaultFlag
from customer_service.queries import Config
from customer_service.schemas import (
    AddressDTO,
    CreateAddressInput,
    CreateCustomerInput,
    CreateGroupInput,
    CustomerDTO,
    GroupDTO,
    MembershipChange,
    MembershipDTO,
    MembershipInput,
    UpdateAddressInput,
    UpdateCustomerInput,
    UpdateGroupInput,
    WriteContext,
)
from customer_service.service.accounts import Accounts
from customer_service.service.addresses import Addresses, default_flag
from customer_service.service.customers import Customers
from customer_service.service.groups import Groups
from customer_service.service.memberships import Memberships
from customer_service.service.outbox import Outbox
from customer_service.service.reads import Reads
from customer_service.service.targets import Selector, Target, context, one_or_many
from customer_service.service.writes import EntityWrites, Updated
from customer_service.validation import (
    validate,
    validate_id,
    validate_ids,
    validate_many,
    validate_optional_id,
)

Filters = Mapping[str, Any] | None
Ids = str | Sequence[str]
ManyIds = list[str] | tuple[str, ...] | Mapping[str, Any]
Context = WriteContext | Mapping[str, Any] | None
Item = Mapping[str, Any]


class CustomerModuleService:
    """Customers, addresses, groups and memberships on PostgreSQL (async)."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions
        self._customers = Customers(sessions)
        self._addresses = Addresses(sessions)
        self._groups = Groups(sessions)
        self._memberships = Memberships(sessions)
        self._accounts = Accounts(sessions)
        self._outbox = Outbox(sessions)
        self._reads = Reads(sessions)

    @property
    def sessions(self) -> async_sessionmaker[AsyncSession]:
        return self._sessions

    # --- generic update -----------------------------------------------------------------------

    @staticmethod
    async def _update(
        writes: EntityWrites[D], selector: Selector, data: BaseModel | Item, ctx: Context
    ) -> tuple[Updated[D], bool]:
        target, single = Target.of(selector, strict=True)
        assert writes.spec.update_input is not None
        record = await writes.update(
            target, validate(writes.spec.update_input, data, "data"), context(ctx)
        )
        return Updated(rows=writes.dtos(record.rows), previous=record.previous), single

    # --- customers ----------------------------------------------------------------------------

    async def retrieve_customer(self, customer_id: str, config: Config = None) -> CustomerDTO:
        return await self._reads.retrieve(CUSTOMER, customer_id, config)

    async def list_customers(
        self, filters: Filters = None, config: Config = None
    ) -> list[CustomerDTO]:
        return await self._reads.list_rows(CUSTOMER, filters, config)

    async def list_and_count_customers(
        self, filters: Filters = None, config: Config = None
    ) -> tuple[list[CustomerDTO], int]:
        return await self._reads.list_and_count(CUSTOMER, filters, config)

    @overload
    async def create_customers(
        self, data: CreateCustomerInput | Item, ctx: Context = None
    ) -> CustomerDTO: ...
    @overload
    async def create_customers(
        self, data: Sequence[CreateCustomerInput | Item], ctx: Context = None
    ) -> list[CustomerDTO]: ...
    async def create_customers(
        self,
        data: CreateCustomerInput | Item | Sequence[CreateCustomerInput | Item],
        ctx: Context = None,
    ) -> CustomerDTO | list[CustomerDTO]:
        """Create customers with their nested addresses (SPEC §2.2); a repeat has one effect."""
        inputs, single = validate_many(CreateCustomerInput, data, "data")
        return one_or_many(await self._customers.create(inputs, context(ctx)), single)

    async def undo_create_customers(self, operation_id: str) -> bool:
        return await self._customers.undo_create(operation_id)

    @overload
    async def update_customers(
        self, selector: str, data: UpdateCustomerInput | Item, ctx: Context = None
    ) -> CustomerDTO: ...
    @overload
    async def update_customers(
        self, selector: ManyIds, data: UpdateCustomerInput | Item, ctx: Context = None
    ) -> list[CustomerDTO]: ...
    async def update_customers(
        self, selector: Selector, data: UpdateCustomerInput | Item, ctx: Context = None
    ) -> CustomerDTO | list[CustomerDTO]:
        """Update by id (returns one), ids or selector (returns a list); metadata is merged."""
        updated, single = await self._update(self._customers, selector, data, ctx)
        return one_or_many(updated.rows, single)

    async def update_customers_tracked(
        self, selector: Selector, data: UpdateCustomerInput | Item, ctx: Context = None
    ) -> Updated[CustomerDTO]:
        """`update_customers`, with the values it replaced."""
        return (await self._update(self._customers, selector, data, ctx))[0]

    async def undo_update_customers(self, operation_id: str) -> bool:
        return await self._customers.undo_update(operation_id)

    async def delete_customers(self, selector: Selector) -> None:
        """Hard delete; addresses and memberships go with them (FK cascade). Repeat-safe."""
        await self._customers.delete(Target.of(selector)[0])

    async def soft_delete_customers(
        self, customer_ids: Ids, ctx: Context = None
    ) -> dict[str, list[str]]:
        """Soft delete customers and, in cascade, their live addresses (SPEC §1.7)."""
        target = Target.of(customer_ids, selector=False)[0]
        return await self._customers.soft_delete_recorded(target, context(ctx))

    async def undo_soft_delete_customers(self, operation_id: str) -> bool:
        return await self._customers.undo_soft_delete(operation_id)

    async def restore_customers(
        self, customer_ids: Ids, *, address_ids: Sequence[str] | None = None
    ) -> dict[str, list[str]]:
        """Restore customers and their soft-deleted addresses (all, or only `address_ids`)."""
        target = Target.of(customer_ids, selector=False)[0]
        only = None if address_ids is None else validate_ids(address_ids, "address_ids")
        return await self._customers.restore_with_addresses(target, only)

    # --- accounts (decision 8) ----------------------------------------------------------------

    async def validate_customer_account_creation(
        self, email: str | None, auth_identity_id: str | None
    ) -> None:
        """SPEC §4.7 step 1, with emails compared case-insensitively (decision 1)."""
        await self._accounts.validate_creation(email, auth_identity_id)

    async def set_auth_identity(
        self,
        customer_id: str,
        auth_identity_id: str | None,
        expected: str | None,
        ctx: Context = None,
    ) -> None:
        """Compare-and-set the customer's auth identity link (decision 8)."""
        validate_id(customer_id, "customer_id")
        validate_optional_id(auth_identity_id, "auth_identity_id")
        validate_optional_id(expected, "expected")
        await self._accounts.set_auth_identity(
            customer_id, auth_identity_id, expected, context(ctx)
        )

    async def undo_set_auth_identity(self, operation_id: str) -> bool:
        return await self._accounts.undo_set_auth_identity(operation_id)

    # --- addresses ----------------------------------------------------------------------------

    async def retrieve_customer_address(self, address_id: str, config: Config = None) -> AddressDTO:
        return await self._reads.retrieve(ADDRESS, address_id, config)

    async def list_customer_addresses(
        self, filters: Filters = None, config: Config = None
    ) -> list[AddressDTO]:
        return await self._reads.list_rows(ADDRESS, filters, config)

    async def list_and_count_customer_addresses(
        self, filters: Filters = None, config: Config = None
    ) -> tuple[list[AddressDTO], int]:
        return await self._reads.list_and_count(ADDRESS, filters, config)

    @overload
    async def create_customer_addresses(
        self, data: CreateAddressInput | Item, ctx: Context = None
    ) -> AddressDTO: ...
    @overload
    async def create_customer_addresses(
        self, data: Sequence[CreateAddressInput | Item], ctx: Context = None
    ) -> list[AddressDTO]: ...
    async def create_customer_addresses(
        self,
        data: CreateAddressInput | Item | Sequence[CreateAddressInput | Item],
        ctx: Context = None,
    ) -> AddressDTO | list[AddressDTO]:
        """Create addresses (one or a list). Module level: a second default is an error."""
        inputs, single = validate_many(CreateAddressInput, data, "data")
        return one_or_many(await self._addresses.create(inputs, context(ctx)), single)

    async def undo_create_customer_addresses(self, operation_id: str) -> bool:
        return await self._addresses.undo_create(operation_id)

    @overload
    async def update_customer_addresses(
        self, selector: str, data: UpdateAddressInput | Item, ctx: Context = None
    ) -> AddressDTO: ...
    @overload
    async def update_customer_addresses(
        self, selector: ManyIds, data: UpdateAddressInput | Item, ctx: Context = None
    ) -> list[AddressDTO]: ...
    async def update_customer_addresses(
        self, selector: Selector, data: UpdateAddressInput | Item, ctx: Context = None
    ) -> AddressDTO | list[AddressDTO]:
        updated, single = await self._update(self._addresses, selector, data, ctx)
        return one_or_many(updated.rows, single)

    async def update_customer_addresses_tracked(
        self, selector: Selector, data: UpdateAddressInput | Item, ctx: Context = None
    ) -> Updated[AddressDTO]:
        return (await self._update(self._addresses, selector, data, ctx))[0]

    async def undo_update_customer_addresses(self, operation_id: str) -> bool:
        return await self._addresses.undo_update(operation_id)

    async def delete_customer_addresses(
        self, selector: Selector, ctx: Context = None
    ) -> list[AddressDTO]:
        """Hard delete, returning the rows deleted (recorded under `ctx.operation_id`).
        Decision 5: an unknown address id is not_found (a selector may match nothing)."""
        return await self._addresses.delete_recorded(Target.of(selector)[0], context(ctx))

    async def undo_delete_customer_addresses(self, operation_id: str) -> bool:
        return await self._addresses.undo_delete(operation_id)

    async def soft_delete_customer_addresses(self, address_ids: Ids) -> dict[str, list[str]]:
        return await self._addresses.soft_delete(Target.of(address_ids, selector=False)[0])

    async def restore_customer_addresses(self, address_ids: Ids) -> dict[str, list[str]]:
        return await self._addresses.restore(Target.of(address_ids, selector=False)[0])

    async def unset_default_addresses(
        self, customer_ids: Sequence[str], flag: DefaultFlag, ctx: Context = None
    ) -> list[str]:
        """Take `flag` off the customers' current default addresses; returns those addresses."""
        valid = default_flag(flag)
        ids = validate_ids(customer_ids, "customer_ids")
        return await self._addresses.unset_defaults(ids, valid, context(ctx))

    async def undo_unset_default_addresses(self, operation_id: str) -> bool:
        return await self._addresses.undo_unset_defaults(operation_id)

    async def set_default_address(self, address_id: str, flag: DefaultFlag) -> AddressDTO:
        """Make one address the default, taking the flag off the customer's other addresses."""
        address_id = validate_id(address_id, "address_id")
        return await self._addresses.set_default(address_id, default_flag(flag))

    # --- groups -------------------------------------------------------------------------------

    async def retrieve_customer_group(self, group_id: str, config: Config = None) -> GroupDTO:
        return await self._reads.retrieve(GROUP, group_id, config)

    async def list_customer_groups(
        self, filters: Filters = None, config: Config = None
    ) -> list[GroupDTO]:
        return await self._reads.list_rows(GROUP, filters, config)

    async def list_and_count_customer_groups(
        self, filters: Filters = None, config: Config = None
    ) -> tuple[list[GroupDTO], int]:
        return await self._reads.list_and_count(GROUP, filters, config)

    @overload
    async def create_customer_groups(
        self, data: CreateGroupInput | Item, ctx: Context = None
    ) -> GroupDTO: ...
    @overload
    async def create_customer_groups(
        self, data: Sequence[CreateGroupInput | Item], ctx: Context = None
    ) -> list[GroupDTO]: ...
    async def create_customer_groups(
        self,
        data: CreateGroupInput | Item | Sequence[CreateGroupInput | Item],
        ctx: Context = None,
    ) -> GroupDTO | list[GroupDTO]:
        """Create groups (one or a list). A live group's name is taken."""
        inputs, single = validate_many(CreateGroupInput, data, "data")
        return one_or_many(await self._groups.create(inputs, context(ctx)), single)

    async def undo_create_customer_groups(self, operation_id: str) -> bool:
        return await self._groups.undo_create(operation_id)

    @overload
    async def update_customer_groups(
        self, selector: str, data: UpdateGroupInput | Item, ctx: Context = None
    ) -> GroupDTO: ...
    @overload
    async def update_customer_groups(
        self, selector: ManyIds, data: UpdateGroupInput | Item, ctx: Context = None
    ) -> list[GroupDTO]: ...
    async def update_customer_groups(
        self, selector: Selector, data: UpdateGroupInput | Item, ctx: Context = None
    ) -> GroupDTO | list[GroupDTO]:
        updated, single = await self._update(self._groups, selector, data, ctx)
        return one_or_many(updated.rows, single)

    async def update_customer_groups_tracked(
        self, selector: Selector, data: UpdateGroupInput | Item, ctx: Context = None
    ) -> Updated[GroupDTO]:
        return (await self._update(self._groups, selector, data, ctx))[0]

    async def undo_update_customer_groups(self, operation_id: str) -> bool:
        return await self._groups.undo_update(operation_id)

    async def delete_customer_groups(self, selector: Selector) -> None:
        await self._groups.delete(Target.of(selector)[0])

    async def soft_delete_customer_groups(
        self, group_ids: Ids, ctx: Context = None
    ) -> dict[str, list[str]]:
        """Soft delete groups; nothing cascades (SPEC §1.7)."""
        target = Target.of(group_ids, selector=False)[0]
        return await self._groups.soft_delete_recorded(target, context(ctx))

    async def undo_soft_delete_customer_groups(self, operation_id: str) -> bool:
        return await self._groups.undo_soft_delete(operation_id)

    async def restore_customer_groups(self, group_ids: Ids) -> dict[str, list[str]]:
        return await self._groups.restore(Target.of(group_ids, selector=False)[0])

    # --- memberships --------------------------------------------------------------------------

    async def retrieve_customer_group_customer(
        self, membership_id: str, config: Config = None
    ) -> MembershipDTO:
        return await self._reads.retrieve(MEMBERSHIP, membership_id, config)

    async def list_customer_group_customers(
        self, filters: Filters = None, config: Config = None
    ) -> list[MembershipDTO]:
        return await self._reads.list_rows(MEMBERSHIP, filters, config)

    async def list_and_count_customer_group_customers(
        self, filters: Filters = None, config: Config = None
    ) -> tuple[list[MembershipDTO], int]:
        return await self._reads.list_and_count(MEMBERSHIP, filters, config)

    @overload
    async def add_customer_to_group(self, data: MembershipInput | Item) -> dict[str, str]: ...
    @overload
    async def add_customer_to_group(
        self, data: Sequence[MembershipInput | Item]
    ) -> list[dict[str, str]]: ...
    async def add_customer_to_group(
        self, data: MembershipInput | Item | Sequence[MembershipInput | Item]
    ) -> dict[str, str] | list[dict[str, str]]:
        """Add memberships; returns `{id}` (or a list) of the membership rows. An existing member
        keeps its row (decision 2). Unknown customer or group → not_found."""
        pairs, single = validate_many(MembershipInput, data, "data")
        membership_ids = await self._memberships.add(pairs)
        return one_or_many([{"id": i} for i in membership_ids], single)

    async def remove_customer_from_group(
        self, data: MembershipInput | Item | Sequence[MembershipInput | Item]
    ) -> None:
        """Hard-delete the memberships of the given pairs; a non-member is a no-op."""
        await self._memberships.remove(validate_many(MembershipInput, data, "data")[0])

    async def change_memberships(
        self,
        add: Sequence[MembershipInput | Item] = (),
        remove: Sequence[MembershipInput | Item] = (),
        ctx: Context = None,
    ) -> MembershipChange:
        """Add and remove memberships in one transaction, reporting the pairs really changed."""
        for name, pairs in (("add", add), ("remove", remove)):
            if not isinstance(pairs, list | tuple):
                raise InvalidDataError(f"Invalid {name}: expected a list of pairs", field=name)
        add_pairs, _ = validate_many(MembershipInput, list(add), "add")
        remove_pairs, _ = validate_many(MembershipInput, list(remove), "remove")
        return await self._memberships.change(add_pairs, remove_pairs, context(ctx))

    async def undo_change_memberships(self, operation_id: str) -> bool:
        return await self._memberships.undo_change(operation_id)

    async def delete_customer_group_customers(self, selector: Selector) -> None:
        await self._memberships.delete(Target.of(selector)[0])

    async def soft_delete_customer_group_customers(
        self, membership_ids: Ids
    ) -> dict[str, list[str]]:
        return await self._memberships.soft_delete(Target.of(membership_ids, selector=False)[0])

    async def restore_customer_group_customers(self, membership_ids: Ids) -> dict[str, list[str]]:
        return await self._memberships.restore(Target.of(membership_ids, selector=False)[0])

    # --- events -------------------------------------------------------------------------------

    async def release_events(self, event_group_id: str, pivot: str | None = None) -> int:
        """Publish the run's staged events (repeat-safe); with `pivot`, see `Outbox.release`."""
        return await self._outbox.release(event_group_id, pivot)

    async def discard_events(self, event_group_id: str) -> int:
        """Drop the run's staged events: a compensated run publishes nothing (repeat-safe)."""
        return await self._outbox.discard(event_group_id)

    async def list_events(
        self,
        *,
        event_group_id: str | None = None,
        status: str | None = None,
        name: str | None = None,
        internal: bool | None = None,
    ) -> list[dict[str, Any]]:
        return await self._outbox.events(event_group_id, status, name, internal)
