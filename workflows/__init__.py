"""Customer workflows: deterministic sagas over the Customer Module activities."""

from workflows.addresses import (
    CreateCustomerAddressesWorkflow,
    DeleteCustomerAddressesWorkflow,
    UpdateCustomerAddressesWorkflow,
)
from workflows.customers import (
    CreateCustomerAccountWorkflow,
    CreateCustomersWorkflow,
    DeleteCustomersWorkflow,
    RemoveCustomerAccountWorkflow,
    UpdateCustomersWorkflow,
)
from workflows.groups import (
    CreateCustomerGroupsWorkflow,
    DeleteCustomerGroupsWorkflow,
    LinkCustomerGroupsToCustomerWorkflow,
    LinkCustomersToCustomerGroupWorkflow,
    UpdateCustomerGroupsWorkflow,
)

ALL_WORKFLOWS: list[type] = [
    CreateCustomersWorkflow,
    UpdateCustomersWorkflow,
    DeleteCustomersWorkflow,
    CreateCustomerAccountWorkflow,
    RemoveCustomerAccountWorkflow,
    CreateCustomerAddressesWorkflow,
    UpdateCustomerAddressesWorkflow,
    DeleteCustomerAddressesWorkflow,
    CreateCustomerGroupsWorkflow,
    UpdateCustomerGroupsWorkflow,
    DeleteCustomerGroupsWorkflow,
    LinkCustomersToCustomerGroupWorkflow,
    LinkCustomerGroupsToCustomerWorkflow,
]

__all__ = [
    "ALL_WORKFLOWS",
    "CreateCustomerAccountWorkflow",
    "CreateCustomerAddressesWorkflow",
    "CreateCustomerGroupsWorkflow",
    "CreateCustomersWorkflow",
    "DeleteCustomerAddressesWorkflow",
    "DeleteCustomerGroupsWorkflow",
    "DeleteCustomersWorkflow",
    "LinkCustomerGroupsToCustomerWorkflow",
    "LinkCustomersToCustomerGroupWorkflow",
    "RemoveCustomerAccountWorkflow",
    "UpdateCustomerAddressesWorkflow",
    "UpdateCustomerGroupsWorkflow",
    "UpdateCustomersWorkflow",
]
