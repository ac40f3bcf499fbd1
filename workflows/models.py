"""Inputs and results of the workflows. Pure module (pydantic only).

Updates carry `update` as a plain dict of the fields to change: absent means "leave as is", which a
model with defaults could not tell apart from an explicit null once serialised.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from customer_service.schemas import (
    MAX_BATCH,
    AddressDTO,
    CreateAddressInput,
    CreateCustomerInput,
    CreateGroupInput,
    CustomerDTO,
    EntityId,
    GroupDTO,
)

AdditionalData = dict[str, Any] | None


class WorkflowInput(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CreateCustomersInput(WorkflowInput):
    customers_data: list[CreateCustomerInput] = Field(min_length=1, max_length=MAX_BATCH)
    additional_data: AdditionalData = None


class UpdateCustomersInput(WorkflowInput):
    selector: dict[str, Any]
    update: dict[str, Any]
    additional_data: AdditionalData = None


class DeleteCustomersInput(WorkflowInput):
    ids: list[EntityId] = Field(min_length=1, max_length=MAX_BATCH)


class CreateCustomerAccountInput(WorkflowInput):
    auth_identity_id: EntityId
    customer_data: CreateCustomerInput


class RemoveCustomerAccountInput(WorkflowInput):
    customer_id: EntityId


class CreateCustomerAddressesInput(WorkflowInput):
    addresses: list[CreateAddressInput] = Field(min_length=1, max_length=MAX_BATCH)
    additional_data: AdditionalData = None


class UpdateCustomerAddressesInput(WorkflowInput):
    selector: dict[str, Any]
    update: dict[str, Any]
    additional_data: AdditionalData = None


class DeleteCustomerAddressesInput(WorkflowInput):
    ids: list[EntityId] = Field(min_length=1, max_length=MAX_BATCH)


class CreateCustomerGroupsInput(WorkflowInput):
    groups: list[CreateGroupInput] = Field(min_length=1, max_length=MAX_BATCH)


class UpdateCustomerGroupsInput(WorkflowInput):
    selector: dict[str, Any]
    update: dict[str, Any]


class DeleteCustomerGroupsInput(WorkflowInput):
    ids: list[EntityId] = Field(min_length=1, max_length=MAX_BATCH)


class LinkInput(WorkflowInput):
    """Medusa's LinkWorkflowInput: the group (or customer) id, and the ids to add and remove."""

    id: EntityId
    add: list[EntityId] = Field(default=[], max_length=MAX_BATCH)
    remove: list[EntityId] = Field(default=[], max_length=MAX_BATCH)


class CustomersResult(BaseModel):
    customers: list[CustomerDTO]


class CustomerResult(BaseModel):
    customer: CustomerDTO


class IdsResult(BaseModel):
    ids: list[str]


class AddressesResult(BaseModel):
    addresses: list[AddressDTO]


class GroupsResult(BaseModel):
    groups: list[GroupDTO]


class LinkResult(BaseModel):
    """The (customer_id, customer_group_id) pairs really added and removed (decision 2)."""

    added: list[tuple[str, str]]
    removed: list[tuple[str, str]]


# --- the `progress` query (defined here, in a pure pass-through module: a pydantic model class
# built inside the sandbox would be built again for every run) ---------------------------------

StepState = Literal["running", "completed", "failed", "compensating", "compensated",
                    "compensation_failed", "skipped"]  # fmt: skip
SagaState = Literal["running", "completed", "compensating", "compensated", "compensation_failed"]


class StepProgress(BaseModel):
    """One line of the `progress` query."""

    step: str
    summary: str
    state: StepState
    error: str | None = None


class Progress(BaseModel):
    status: SagaState
    steps: list[StepProgress]
