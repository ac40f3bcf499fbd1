# mypy: disable-error-code="empty-body"
"""Typed references to the worker's activities, for workflows to call.

Each stub has the name, input and result type of one `CustomerActivities` method (the service
operation it runs; compensations start with `undo_`), so a workflow call such as
`saga.step(stubs.create_customers, step)` is checked by mypy and needs no hand-written
`result_type`. The stubs are never registered or run: the worker registers the real methods under
the same names, and `tests/test_activity_stubs.py` checks that both sides agree.
Pure module: workflows import it through the sandbox's pass-through.
"""

from __future__ import annotations

from typing import Any

from temporalio import activity

from activities.contracts import (
    ChangeMembershipsStep,
    CreateAddressesStep,
    CreateCustomersStep,
    CreateGroupsStep,
    DeleteAddressesStep,
    EventGroup,
    HookCall,
    LinkAuthIdentityStep,
    ListQuery,
    RemoveAuthIdentityStep,
    SoftDeleteStep,
    Undo,
    UnsetDefaultsStep,
    UpdatedCustomers,
    UpdateStep,
    ValidateAccountStep,
)
from customer_service.schemas import AddressDTO, CustomerDTO, GroupDTO, MembershipChange

# --- customers -----------------------------------------------------------------------------


@activity.defn
async def create_customers(step: CreateCustomersStep) -> list[CustomerDTO]: ...


@activity.defn
async def undo_create_customers(undo: Undo) -> bool: ...


@activity.defn
async def update_customers(step: UpdateStep) -> UpdatedCustomers: ...


@activity.defn
async def undo_update_customers(undo: Undo) -> bool: ...


@activity.defn
async def soft_delete_customers(step: SoftDeleteStep) -> dict[str, list[str]]: ...


@activity.defn
async def undo_soft_delete_customers(undo: Undo) -> bool: ...


@activity.defn
async def list_customers(query: ListQuery) -> list[dict[str, Any]]: ...


# --- accounts ------------------------------------------------------------------------------


@activity.defn
async def validate_customer_account_creation(step: ValidateAccountStep) -> None: ...


@activity.defn
async def link_auth_identity(step: LinkAuthIdentityStep) -> None: ...


@activity.defn
async def undo_link_auth_identity(undo: Undo) -> bool: ...


@activity.defn
async def remove_auth_identity(step: RemoveAuthIdentityStep) -> bool: ...


@activity.defn
async def undo_remove_auth_identity(undo: Undo) -> bool: ...


# --- addresses -----------------------------------------------------------------------------


@activity.defn
async def unset_default_addresses(step: UnsetDefaultsStep) -> list[str]: ...


@activity.defn
async def undo_unset_default_addresses(undo: Undo) -> bool: ...


@activity.defn
async def create_customer_addresses(step: CreateAddressesStep) -> list[AddressDTO]: ...


@activity.defn
async def undo_create_customer_addresses(undo: Undo) -> bool: ...


@activity.defn
async def update_customer_addresses(step: UpdateStep) -> list[AddressDTO]: ...


@activity.defn
async def undo_update_customer_addresses(undo: Undo) -> bool: ...


@activity.defn
async def delete_customer_addresses(step: DeleteAddressesStep) -> list[AddressDTO]: ...


@activity.defn
async def undo_delete_customer_addresses(undo: Undo) -> bool: ...


@activity.defn
async def list_customer_addresses(query: ListQuery) -> list[dict[str, Any]]: ...


# --- groups and memberships ----------------------------------------------------------------


@activity.defn
async def create_customer_groups(step: CreateGroupsStep) -> list[GroupDTO]: ...


@activity.defn
async def undo_create_customer_groups(undo: Undo) -> bool: ...


@activity.defn
async def update_customer_groups(step: UpdateStep) -> list[GroupDTO]: ...


@activity.defn
async def undo_update_customer_groups(undo: Undo) -> bool: ...


@activity.defn
async def soft_delete_customer_groups(step: SoftDeleteStep) -> dict[str, list[str]]: ...


@activity.defn
async def undo_soft_delete_customer_groups(undo: Undo) -> bool: ...


@activity.defn
async def change_memberships(step: ChangeMembershipsStep) -> MembershipChange: ...


@activity.defn
async def undo_change_memberships(undo: Undo) -> bool: ...


# --- events and hooks ----------------------------------------------------------------------


@activity.defn
async def release_events(group: EventGroup) -> int: ...


@activity.defn
async def discard_events(group: EventGroup) -> int: ...


@activity.defn
async def run_hook(call: HookCall) -> int: ...
