"""Inputs and outputs of the activities: ids and primitives, never ORM objects. Pure module."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from customer_service.schemas import (
    CreateAddressInput,
    CreateCustomerInput,
    CreateGroupInput,
    MembershipInput,
    WriteContext,
)

DefaultFlag = Literal["is_default_shipping", "is_default_billing"]
Entity = Literal["customer", "address", "group", "membership"]


class StepInput(BaseModel):
    model_config = ConfigDict(extra="forbid")


class WriteStep(StepInput):
    """A mutating step: its idempotency key and the run's event group (both minted by the
    workflow), which become the service call's `WriteContext`."""

    operation_id: str
    event_group_id: str | None = None

    def ctx(self) -> WriteContext:
        return WriteContext(operation_id=self.operation_id, event_group_id=self.event_group_id)


class CreateCustomersStep(WriteStep):
    customers: list[CreateCustomerInput]


class UpdateStep(WriteStep):
    """`update` holds only the fields to change (unset fields are absent, not null)."""

    entity: Literal["customer", "address", "group"]
    selector: str | list[str] | dict[str, Any]
    update: dict[str, Any]


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


class SetAuthIdentityStep(WriteStep):
    customer_id: str
    auth_identity_id: str | None
    expected: str | None


class Undo(StepInput):
    """A compensation: undo what `operation_id` did, exactly, once (a no-op if it never ran)."""

    operation_id: str
    entity: Literal["customer", "address", "group"] | None = None
    flag: DefaultFlag | None = None


class EventGroup(StepInput):
    event_group_id: str


class ListQuery(StepInput):
    entity: Entity
    filters: dict[str, Any] = {}
    config: dict[str, Any] = {}


class ValidateAccountStep(StepInput):
    email: str | None
    auth_identity_id: str | None


class HookCall(StepInput):
    hook: str
    payload: dict[str, Any]
    additional_data: dict[str, Any] | None = None
