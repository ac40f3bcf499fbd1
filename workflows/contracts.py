"""Inputs and results of the workflows, and the `progress` query's models. Pure module.

Updates carry `update` as a plain dict of the fields to change: absent means "leave as is", which a
model with defaults could not tell apart from an explicit null once serialised.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from activities.contracts import HookName
from customer_service import schemas
from customer_service.schemas import (
    MAX_BATCH,
    MAX_INPUT_BYTES,
    AddressDTO,
    CreateAddressInput,
    CreateCustomerInput,
    CreateGroupInput,
    CustomerDTO,
    EntityId,
    GroupDTO,
    JsonObject,
)

AdditionalData = schemas.AdditionalData | None


class WorkflowInput(BaseModel):
    """Validated where the run is started and again where the worker decodes it, so an input too
    large for Temporal fails typed at either end (never a workflow task failing forever)."""

    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="after")
    def _bounded(self) -> WorkflowInput:
        if len(self.model_dump_json().encode()) > MAX_INPUT_BYTES:
            raise ValueError(f"the input must be at most {MAX_INPUT_BYTES} bytes as JSON")
        return self


class HookedInput(WorkflowInput):
    """A workflow with hook points. `hooks` names those the run calls: the ones with handlers in
    the deployment that starts it (`CustomerFlows` fills it in from `HOOKS_MODULE`), so the set
    is fixed in the run's history and replay never depends on the replaying worker's
    configuration. A start that lists none calls none."""

    hooks: list[HookName] = []


class CreateCustomersInput(HookedInput):
    customers_data: list[CreateCustomerInput] = Field(min_length=1, max_length=MAX_BATCH)
    additional_data: AdditionalData = None


class SelectedUpdate(HookedInput):
    """`update` (the fields to change) on the rows `selector` picks: `{"id": id | [ids]}`, each
    of which must exist, or any filter."""

    selector: JsonObject = Field(min_length=1)  # an empty one would match every row
    update: JsonObject
    additional_data: AdditionalData = None


class UpdateCustomersInput(SelectedUpdate):
    pass


class DeleteCustomersInput(HookedInput):
    ids: list[EntityId] = Field(min_length=1, max_length=MAX_BATCH)


class CreateCustomerAccountInput(HookedInput):
    auth_identity_id: EntityId
    customer_data: CreateCustomerInput


class RemoveCustomerAccountInput(HookedInput):
    customer_id: EntityId


class CreateCustomerAddressesInput(HookedInput):
    addresses: list[CreateAddressInput] = Field(min_length=1, max_length=MAX_BATCH)
    additional_data: AdditionalData = None


class UpdateCustomerAddressesInput(SelectedUpdate):
    pass


class DeleteCustomerAddressesInput(HookedInput):
    ids: list[EntityId] = Field(min_length=1, max_length=MAX_BATCH)


class CreateCustomerGroupsInput(WorkflowInput):
    groups: list[CreateGroupInput] = Field(min_length=1, max_length=MAX_BATCH)


class UpdateCustomerGroupsInput(WorkflowInput):
    selector: JsonObject = Field(min_length=1)  # an empty one would match every row
    update: JsonObject


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

StepState = Literal[
    "running", "completed", "failed", "compensating", "compensated", "compensation_failed"
]
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
