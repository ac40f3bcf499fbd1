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

__all__ = [w.__name__ for w in ALL_WORKFLOWS] + ["ALL_WORKFLOWS"]
