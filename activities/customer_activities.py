"""`CustomerActivities`: one activity per Customer Module operation the workflows use.

Each activity is one service call (one transaction), named like the service operation it runs;
a compensation is `undo_<operation>` and needs only the operation id. The signatures are those
of `activities.stubs` (a test checks both sides agree). Domain errors end the activity as
non-retryable `ApplicationError`s typed like Medusa's (`activities.failures`); anything else —
connection refused, serialization failure, timeouts — propagates, and Temporal retries it.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Awaitable, Callable
from typing import Any, Protocol, TypeVar

from temporalio import activity
from temporalio.exceptions import ApplicationError

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
    PivotRelease,
    RemoveAuthIdentityStep,
    SoftDeleteStep,
    Undo,
    UnsetDefaultsStep,
    UpdatedCustomers,
    UpdateStep,
    ValidateAccountStep,
    WriteStep,
)
from activities.failures import application_error, bounded_read, business_errors
from activities.heartbeat import heartbeats
from activities.hooks import HookRegistry
from auth.store import AuthStore
from customer_service import delivery_plan
from customer_service.errors import HookFailedError
from customer_service.schemas import AddressDTO, CustomerDTO, GroupDTO, MembershipChange
from customer_service.service import CustomerModuleService

S = TypeVar("S", bound=WriteStep)
R = TypeVar("R")


class HandOver(Protocol):
    """Where a run's released events go on to delivery (`DeliveryActivities`)."""

    def local_events(self) -> list[str]: ...

    async def release(self, event_group_id: str) -> int: ...


def hands_on(
    fn: Callable[[CustomerActivities, S], Awaitable[R]],
) -> Callable[[CustomerActivities, S], Awaitable[R]]:
    """A pivot step releases its run's events in its own transaction, and that statement also
    plans their delivery when nobody wants them (`delivery_plan`). Otherwise, or on a repeat
    (the step re-run after a lost task), the step hands them on for delivery as the
    `release_events` step does."""

    @functools.wraps(fn)
    async def wrapper(self: CustomerActivities, step: S) -> R:
        if not (step.release and step.event_group_id):
            return await fn(self, step)
        return await self._handing_over(step.event_group_id, lambda: fn(self, step))

    return wrapper


class CustomerActivities:
    """Activities bound to one injected service, the auth store (the accounts' identities) and
    the deployment's hook handlers. Without `auth`, one over the service's own database."""

    def __init__(
        self,
        service: CustomerModuleService,
        hooks: HookRegistry | None = None,
        delivery: HandOver | None = None,
        auth: AuthStore | None = None,
    ) -> None:
        """`delivery`: where released events are handed on (the worker passes its
        `DeliveryActivities`); without it the events are only released."""
        self._service = service
        self._hooks = hooks or HookRegistry()
        self._delivery = delivery
        self._auth = auth or AuthStore(service.sessions)

    def all(self) -> list[Callable[..., Any]]:
        """Every activity of this instance, for `Worker(activities=...)`."""
        return [
            member
            for _, member in inspect.getmembers(self, inspect.ismethod)
            if hasattr(member, "__temporal_activity_definition")
        ]

    # --- customers ----------------------------------------------------------------------------

    @activity.defn
    @heartbeats
    @business_errors
    @hands_on
    async def create_customers(self, step: CreateCustomersStep) -> list[CustomerDTO]:
        return await self._service.create_customers(step.customers, step.ctx())

    @activity.defn
    @heartbeats
    @business_errors
    async def undo_create_customers(self, undo: Undo) -> bool:
        return await self._service.undo_create_customers(undo.operation_id)

    @activity.defn
    @heartbeats
    @business_errors
    @hands_on
    async def update_customers(self, step: UpdateStep) -> UpdatedCustomers:
        updated = await self._service.update_customers_tracked(
            step.selector, step.update, step.ctx()
        )
        emails = [p["email"] for p in updated.previous if p.get("email")]
        return UpdatedCustomers(customers=updated.rows, previous_emails=emails)

    @activity.defn
    @heartbeats
    @business_errors
    async def undo_update_customers(self, undo: Undo) -> bool:
        return await self._service.undo_update_customers(undo.operation_id)

    @activity.defn
    @heartbeats
    @business_errors
    @hands_on
    async def soft_delete_customers(self, step: SoftDeleteStep) -> dict[str, list[str]]:
        return await self._service.soft_delete_customers(step.ids, step.ctx())

    @activity.defn
    @heartbeats
    @business_errors
    async def undo_soft_delete_customers(self, undo: Undo) -> bool:
        return await self._service.undo_soft_delete_customers(undo.operation_id)

    @activity.defn
    @heartbeats
    @business_errors
    @bounded_read
    async def list_customers(self, query: ListQuery) -> list[dict[str, Any]]:
        """A snapshot read: the plain values of `config.select`, for a step that decides."""
        rows = await self._service.list_customers(query.filters, query.config)
        return [row.model_dump(mode="json") for row in rows]

    # --- accounts -----------------------------------------------------------------------------

    @activity.defn
    @heartbeats
    @business_errors
    async def validate_customer_account_creation(self, step: ValidateAccountStep) -> None:
        await self._service.validate_customer_account_creation(step.email, step.auth_identity_id)

    @activity.defn
    @heartbeats
    @business_errors
    @hands_on
    async def link_auth_identity(self, step: LinkAuthIdentityStep) -> None:
        await self._auth.accounts.link_customer(step.auth_identity_id, step.customer_id, step.ctx())

    @activity.defn
    @heartbeats
    @business_errors
    async def undo_link_auth_identity(self, undo: Undo) -> bool:
        return await self._auth.accounts.undo_link_customer(undo.operation_id)

    @activity.defn
    @heartbeats
    @business_errors
    @hands_on
    async def remove_auth_identity(self, step: RemoveAuthIdentityStep) -> bool:
        """Returns whether the identity was deleted (False: only unlinked)."""
        return await self._auth.accounts.remove_customer_identity(
            step.customer_id, step.auth_identity_id, step.ctx()
        )

    @activity.defn
    @heartbeats
    @business_errors
    async def undo_remove_auth_identity(self, undo: Undo) -> bool:
        return await self._auth.accounts.undo_remove_customer_identity(undo.operation_id)

    # --- addresses ----------------------------------------------------------------------------

    @activity.defn
    @heartbeats
    @business_errors
    @hands_on
    async def unset_default_addresses(self, step: UnsetDefaultsStep) -> list[str]:
        return await self._service.unset_default_addresses(step.customer_ids, step.flag, step.ctx())

    @activity.defn
    @heartbeats
    @business_errors
    async def undo_unset_default_addresses(self, undo: Undo) -> bool:
        return await self._service.undo_unset_default_addresses(undo.operation_id)

    @activity.defn
    @heartbeats
    @business_errors
    @hands_on
    async def create_customer_addresses(self, step: CreateAddressesStep) -> list[AddressDTO]:
        return await self._service.create_customer_addresses(step.addresses, step.ctx())

    @activity.defn
    @heartbeats
    @business_errors
    async def undo_create_customer_addresses(self, undo: Undo) -> bool:
        return await self._service.undo_create_customer_addresses(undo.operation_id)

    @activity.defn
    @heartbeats
    @business_errors
    @hands_on
    async def update_customer_addresses(self, step: UpdateStep) -> list[AddressDTO]:
        updated = await self._service.update_customer_addresses_tracked(
            step.selector, step.update, step.ctx()
        )
        return updated.rows

    @activity.defn
    @heartbeats
    @business_errors
    async def undo_update_customer_addresses(self, undo: Undo) -> bool:
        return await self._service.undo_update_customer_addresses(undo.operation_id)

    @activity.defn
    @heartbeats
    @business_errors
    @hands_on
    async def delete_customer_addresses(self, step: DeleteAddressesStep) -> list[AddressDTO]:
        return await self._service.delete_customer_addresses(step.ids, step.ctx())

    @activity.defn
    @heartbeats
    @business_errors
    async def undo_delete_customer_addresses(self, undo: Undo) -> bool:
        return await self._service.undo_delete_customer_addresses(undo.operation_id)

    @activity.defn
    @heartbeats
    @business_errors
    @bounded_read
    async def list_customer_addresses(self, query: ListQuery) -> list[dict[str, Any]]:
        """A snapshot read: the plain values of `config.select`, for a step that decides."""
        rows = await self._service.list_customer_addresses(query.filters, query.config)
        return [row.model_dump(mode="json") for row in rows]

    # --- groups and memberships ---------------------------------------------------------------

    @activity.defn
    @heartbeats
    @business_errors
    @hands_on
    async def create_customer_groups(self, step: CreateGroupsStep) -> list[GroupDTO]:
        return await self._service.create_customer_groups(step.groups, step.ctx())

    @activity.defn
    @heartbeats
    @business_errors
    async def undo_create_customer_groups(self, undo: Undo) -> bool:
        return await self._service.undo_create_customer_groups(undo.operation_id)

    @activity.defn
    @heartbeats
    @business_errors
    @hands_on
    async def update_customer_groups(self, step: UpdateStep) -> list[GroupDTO]:
        updated = await self._service.update_customer_groups_tracked(
            step.selector, step.update, step.ctx()
        )
        return updated.rows

    @activity.defn
    @heartbeats
    @business_errors
    async def undo_update_customer_groups(self, undo: Undo) -> bool:
        return await self._service.undo_update_customer_groups(undo.operation_id)

    @activity.defn
    @heartbeats
    @business_errors
    @hands_on
    async def soft_delete_customer_groups(self, step: SoftDeleteStep) -> dict[str, list[str]]:
        return await self._service.soft_delete_customer_groups(step.ids, step.ctx())

    @activity.defn
    @heartbeats
    @business_errors
    async def undo_soft_delete_customer_groups(self, undo: Undo) -> bool:
        return await self._service.undo_soft_delete_customer_groups(undo.operation_id)

    @activity.defn
    @heartbeats
    @business_errors
    @hands_on
    async def change_memberships(self, step: ChangeMembershipsStep) -> MembershipChange:
        return await self._service.change_memberships(step.add, step.remove, step.ctx())

    @activity.defn
    @heartbeats
    @business_errors
    async def undo_change_memberships(self, undo: Undo) -> bool:
        return await self._service.undo_change_memberships(undo.operation_id)

    # --- events and hooks ---------------------------------------------------------------------

    @activity.defn
    @heartbeats
    @business_errors
    async def release_events(self, group: EventGroup) -> int:
        if self._delivery is not None:
            return await self._delivery.release(group.event_group_id)
        return await self._service.release_events(group.event_group_id)

    @activity.defn
    @heartbeats
    @business_errors
    async def discard_events(self, group: EventGroup) -> int:
        return await self._service.discard_events(group.event_group_id)

    @activity.defn
    @heartbeats
    async def run_hook(self, call: HookCall) -> int:
        """Call the handlers registered for `call.hook`. A handler that raises fails the run
        (non-retryable, type `hook_failed`) unless it raised an ApplicationError of its own.
        With `call.release` (the hook after the run's pivot), the run's events are then
        released with the pivot's operation marked released (a repeat calls the handlers again:
        at least once, as any activity)."""
        handlers = self._hooks.handlers(call.hook)
        await self._call(call, handlers)
        if call.release is not None:
            await self._release_after_hooks(call.release)
        return len(handlers)

    @business_errors
    async def _release_after_hooks(self, release: PivotRelease) -> None:
        group = release.event_group_id
        await self._handing_over(
            group, lambda: self._service.release_events(group, release.operation_id)
        )

    async def _handing_over(self, group: str, write: Callable[[], Awaitable[R]]) -> R:
        """`write` releases the run's events; its statement plans them when nobody wants them
        (`delivery_plan`), otherwise they are handed on for delivery after it."""
        delivery = self._delivery
        if delivery is None:
            return await write()
        with delivery_plan.planning(delivery.local_events()) as plan:
            result = await write()
        if not plan.planned:
            await delivery.release(group)
        return result

    async def _call(self, call: HookCall, handlers: list[Any]) -> None:
        for handler in handlers:
            try:
                outcome = handler(call.payload, call.additional_data)
                if inspect.isawaitable(outcome):
                    await outcome
            except ApplicationError:
                raise
            except Exception as err:
                name = getattr(handler, "__name__", handler)
                failed = HookFailedError(f"{call.hook} handler {name!s} failed: {err}")
                raise application_error(failed) from err
