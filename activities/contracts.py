"""Inputs and outputs of the activities: ids, primitives and DTOs, never ORM objects.

Pure module (pydantic only): workflows import it through the sandbox's pass-through.
"""

from __future__ import annotations

from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict

from customer_service.schemas import (
    MAX_RESULT_BYTES,
    CreateAddressInput,
    CreateCustomerInput,
    CreateGroupInput,
    CustomerDTO,
    MembershipInput,
    WriteContext,
)

DefaultFlag = Literal["is_default_shipping", "is_default_billing"]
HookName = Literal[
    "customersCreated",
    "customersUpdated",
    "customersDeleted",
    "addressesCreated",
    "addressesUpdated",
    "addressesDeleted",
]
HOOK_NAMES: tuple[HookName, ...] = get_args(HookName)


class Contract(BaseModel):
    model_config = ConfigDict(extra="forbid")


class WriteStep(Contract):
    """A mutating step: its idempotency key and the run's event group (both minted by the
    workflow), which become the service call's `WriteContext`. `release`: the step is the run's
    pivot and nothing after it can fail, so it releases the run's events in its own transaction
    (set by the saga, never by a workflow)."""

    operation_id: str
    event_group_id: str | None = None
    release: bool = False

    def ctx(self) -> WriteContext:
        return WriteContext(
            operation_id=self.operation_id,
            event_group_id=self.event_group_id,
            release=self.release,
            max_result_bytes=MAX_RESULT_BYTES,
        )


class CreateCustomersStep(WriteStep):
    customers: list[CreateCustomerInput]


class UpdateStep(WriteStep):
    """`update` holds only the fields to change (unset fields are absent, not null); `selector`
    is an id, a list of ids (each must exist) or a filter."""

    selector: str | list[str] | dict[str, Any]
    update: dict[str, Any]


class UpdatedCustomers(Contract):
    """The updated customers, and the emails they had before (so the run is findable by both)."""

    customers: list[CustomerDTO]
    previous_emails: list[str]


class SoftDeleteStep(WriteStep):
    ids: list[str]


class UnsetDefaultsStep(WriteStep):
    customer_ids: list[str]
    flag: DefaultFlag


class CreateAddressesStep(WriteStep):
    addresses: list[CreateAddressInput]


class DeleteAddressesStep(WriteStep):
    ids: list[str]


class CreateGroupsStep(WriteStep):
    groups: list[CreateGroupInput]


class ChangeMembershipsStep(WriteStep):
    add: list[MembershipInput] = []
    remove: list[MembershipInput] = []


class LinkAuthIdentityStep(WriteStep):
    """Set the auth identity's `app_metadata.customer_id` (create-customer-account)."""

    auth_identity_id: str
    customer_id: str


class RemoveAuthIdentityStep(WriteStep):
    """Delete (or unlink) the auth identity of a removed customer (remove-customer-account);
    `auth_identity_id` is the customer's own column, when set."""

    customer_id: str
    auth_identity_id: str | None


class Undo(Contract):
    """A compensation: undo exactly what `operation_id` did, once; a no-op if it never ran.

    Every compensation needs only this: what to undo (entity, flag, previous values) is in the
    operation's typed record in the operation log."""

    operation_id: str


class EventGroup(Contract):
    event_group_id: str


class ListQuery(Contract):
    """A snapshot read for a step that decides on current state: plain rows of `select`."""

    filters: dict[str, Any] = {}
    config: dict[str, Any] = {}


class ValidateAccountStep(Contract):
    email: str | None
    auth_identity_id: str | None


class PivotRelease(Contract):
    """The run's release, carried by the hook step that follows its pivot: after the handlers,
    the pivot's operation is marked released with the run's events (one activity, not two)."""

    operation_id: str
    event_group_id: str


class HookCall(Contract):
    hook: HookName
    payload: dict[str, Any]
    additional_data: dict[str, Any] | None = None
    release: PivotRelease | None = None
