"""Inputs and outputs of the activities: ids and primitives, never ORM objects. Pure module."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from customer_service.schemas import (
    CreateAddressInput,
    CreateCustomerInput,
    CreateGroupInput,
    MembershipInput,
)

DefaultFlag = Literal["is_default_shipping", "is_default_billing"]
Entity = Literal["customer", "address", "group", "membership"]


class StepInput(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CreateCustomersStep(StepInput):
    customers: list[CreateCustomerInput]
    operation_id: str
    event_group_id: str | None = None


class UpdateStep(StepInput):
    """`update` holds only the fields to change (unset fields are absent, not null)."""

    entity: Literal["customer", "address", "group"]
    selector: dict[str, Any]
    update: dict[str, Any]
    operation_id: str
    event_group_id: str | None = None


class SoftDeleteStep(StepInput):
    ids: list[str]
    operation_id: str
    event_group_id: str | None = None


class UnsetDefaultsStep(StepInput):
    customer_ids: list[str]
    flag: DefaultFlag
    operation_id: str


class CreateAddressesStep(StepInput):
    addresses: list[CreateAddressInput]
    operation_id: str


class DeleteAddressesStep(StepInput):
    ids: list[str]
    operation_id: str


class CreateGroupsStep(StepInput):
    groups: list[CreateGroupInput]
    operation_id: str


class ChangeMembershipsStep(StepInput):
    add: list[MembershipInput] = []
    remove: list[MembershipInput] = []
    operation_id: str


class SetAuthIdentityStep(StepInput):
    customer_id: str
    auth_identity_id: str | None
    expected: str | None
    operation_id: str


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
