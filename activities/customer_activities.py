"""`CustomerActivities`: one activity per Customer Module operation the workflows use.

Each activity is one service call (one transaction). Domain errors become non-retryable
`ApplicationError`s typed like Medusa's (`not_found`, `invalid_data`, ...); anything else —
connection refused, serialization failure, timeouts — propagates, and Temporal retries it.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, ParamSpec, TypeVar

from pydantic import BaseModel
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.hooks import HookRegistry
from activities.models import (
    ChangeMembershipsStep,
    CreateAddressesStep,
    CreateCustomersStep,
    CreateGroupsStep,
    DeleteAddressesStep,
    EventGroup,
    HookCall,
    ListQuery,
    SetAuthIdentityStep,
    SoftDeleteStep,
    Undo,
    UnsetDefaultsStep,
    UpdateStep,
    ValidateAccountStep,
)
from customer_service.errors import CustomerModuleError
from customer_service.schemas import (
    AddressDTO,
    CustomerDTO,
    GroupDTO,
    MembershipChange,
    UpdateOutcome,
)
from customer_service.service import CustomerModuleService

P = ParamSpec("P")
R = TypeVar("R")


def business_errors(fn: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
    """Turn domain errors into non-retryable ApplicationErrors carrying Medusa's type."""

    @functools.wraps(fn)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return await fn(*args, **kwargs)
        except CustomerModuleError as err:
            raise ApplicationError(
                err.message, err.to_dict(), type=err.type, non_retryable=True
            ) from err

    return wrapper


class CustomerActivities:
    """Activities bound to one injected service (and the deployment's hook handlers)."""

    def __init__(self, service: CustomerModuleService, hooks: HookRegistry | None = None) -> None:
        self._service = service
        self._hooks = hooks or HookRegistry()

    def all(self) -> list[Callable[..., Any]]:
        """Every activity of this instance, for `Worker(activities=...)`."""
        return [
            member
            for _, member in inspect.getmembers(self, inspect.ismethod)
            if hasattr(member, "__temporal_activity_definition")
        ]

    # --- customers ----------------------------------------------------------------------------

    @activity.defn
    @business_errors
    async def create_customers(self, step: CreateCustomersStep) -> list[CustomerDTO]:
        result: list[CustomerDTO] = await self._service.create_customers(step.customers, step.ctx())
        return result

    @activity.defn
    @business_errors
    async def delete_created_customers(self, undo: Undo) -> bool:
        """Compensation of create_customers: hard-delete what it created."""
        return await self._service.undo_create_customers(undo.operation_id)

    @activity.defn
    @business_errors
    async def update_entities(self, step: UpdateStep) -> UpdateOutcome:
        update = {
            "customer": self._service.update_customers_tracked,
            "address": self._service.update_customer_addresses_tracked,
            "group": self._service.update_customer_groups_tracked,
        }[step.entity]
        return await update(step.selector, step.update, step.ctx())

    @activity.defn
    @business_errors
    async def restore_updated_fields(self, undo: Undo) -> bool:
        """Compensation of update_entities: compare-and-set the previous values back."""
        assert undo.entity is not None
        return await self._service.undo_update(undo.operation_id, undo.entity)

    @activity.defn
    @business_errors
    async def soft_delete_customers(self, step: SoftDeleteStep) -> dict[str, list[str]]:
        return await self._service.soft_delete_customers(step.ids, step.ctx())

    @activity.defn
    @business_errors
    async def restore_deleted_customers(self, undo: Undo) -> bool:
        return await self._service.undo_soft_delete_customers(undo.operation_id)

    @activity.defn
    @business_errors
    async def validate_customer_account_creation(self, step: ValidateAccountStep) -> None:
        await self._service.validate_customer_account_creation(step.email, step.auth_identity_id)

    @activity.defn
    @business_errors
    async def set_auth_identity(self, step: SetAuthIdentityStep) -> None:
        await self._service.set_auth_identity(
            step.customer_id,
            step.auth_identity_id,
            step.expected,
            step.ctx(),
        )

    @activity.defn
    @business_errors
    async def restore_auth_identity(self, undo: Undo) -> bool:
        return await self._service.undo_set_auth_identity(undo.operation_id)

    # --- addresses ----------------------------------------------------------------------------

    @activity.defn
    @business_errors
    async def unset_default_addresses(self, step: UnsetDefaultsStep) -> list[str]:
        return await self._service.unset_default_addresses(step.customer_ids, step.flag, step.ctx())

    @activity.defn
    @business_errors
    async def reset_default_addresses(self, undo: Undo) -> bool:
        assert undo.flag is not None
        return await self._service.undo_unset_default_addresses(undo.operation_id, undo.flag)

    @activity.defn
    @business_errors
    async def create_customer_addresses(self, step: CreateAddressesStep) -> list[AddressDTO]:
        result: list[AddressDTO] = await self._service.create_customer_addresses(
            step.addresses, step.ctx()
        )
        return result

    @activity.defn
    @business_errors
    async def delete_created_addresses(self, undo: Undo) -> bool:
        return await self._service.undo_create_customer_addresses(undo.operation_id)

    @activity.defn
    @business_errors
    async def delete_customer_addresses(self, step: DeleteAddressesStep) -> list[dict[str, Any]]:
        return await self._service.delete_customer_addresses_tracked(step.ids, step.ctx())

    @activity.defn
    @business_errors
    async def reinsert_deleted_addresses(self, undo: Undo) -> bool:
        return await self._service.undo_delete_customer_addresses(undo.operation_id)

    # --- groups and memberships ---------------------------------------------------------------

    @activity.defn
    @business_errors
    async def create_customer_groups(self, step: CreateGroupsStep) -> list[GroupDTO]:
        result: list[GroupDTO] = await self._service.create_customer_groups(step.groups, step.ctx())
        return result

    @activity.defn
    @business_errors
    async def delete_created_groups(self, undo: Undo) -> bool:
        return await self._service.undo_create_customer_groups(undo.operation_id)

    @activity.defn
    @business_errors
    async def soft_delete_customer_groups(self, step: SoftDeleteStep) -> dict[str, list[str]]:
        return await self._service.soft_delete_customer_groups(step.ids, step.ctx())

    @activity.defn
    @business_errors
    async def restore_deleted_groups(self, undo: Undo) -> bool:
        return await self._service.undo_soft_delete_customer_groups(undo.operation_id)

    @activity.defn
    @business_errors
    async def change_memberships(self, step: ChangeMembershipsStep) -> MembershipChange:
        return await self._service.change_memberships(step.add, step.remove, step.ctx())

    @activity.defn
    @business_errors
    async def revert_membership_changes(self, undo: Undo) -> bool:
        return await self._service.undo_change_memberships(undo.operation_id)

    # --- reads, events, hooks -----------------------------------------------------------------

    @activity.defn
    @business_errors
    async def list_entities(self, query: ListQuery) -> list[dict[str, Any]]:
        """A snapshot read (ids and plain values) for a step that decides on current state."""
        read: dict[str, Callable[..., Awaitable[Sequence[BaseModel]]]] = {
            "customer": self._service.list_customers,
            "address": self._service.list_customer_addresses,
            "group": self._service.list_customer_groups,
            "membership": self._service.list_customer_group_customers,
        }
        rows = await read[query.entity](query.filters, query.config)
        return [row.model_dump(mode="json") for row in rows]

    @activity.defn
    @business_errors
    async def release_events(self, group: EventGroup) -> int:
        return await self._service.release_events(group.event_group_id)

    @activity.defn
    @business_errors
    async def discard_events(self, group: EventGroup) -> int:
        return await self._service.discard_events(group.event_group_id)

    @activity.defn
    async def run_hook(self, call: HookCall) -> int:
        """Call the handlers registered for `call.hook`. A handler that raises fails the run
        (non-retryable, type `hook_failed`) unless it raised an ApplicationError of its own."""
        handlers = self._hooks.handlers(call.hook)
        for handler in handlers:
            try:
                outcome = handler(call.payload, call.additional_data)
                if inspect.isawaitable(outcome):
                    await outcome
            except ApplicationError:
                raise
            except Exception as err:
                raise ApplicationError(
                    f"{call.hook} handler {getattr(handler, '__name__', handler)!s} failed: {err}",
                    type="hook_failed",
                    non_retryable=True,
                ) from err
        return len(handlers)
