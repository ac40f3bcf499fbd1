"""Customer workflows: deterministic sagas over the Customer Module activities.

The names below are loaded on first use (PEP 562). The workflow sandbox imports the package
afresh for every run; importing only the module of the workflow being run (not all thirteen,
each with its `@workflow.defn` to process) keeps that per-run cost small.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from workflows.addresses import (
        CreateCustomerAddressesWorkflow,
        DeleteCustomerAddressesWorkflow,
        UpdateCustomerAddressesWorkflow,
    )
    from workflows.bulk import ExportCustomersWorkflow, ImportCustomersWorkflow
    from workflows.customers import (
        CreateCustomerAccountWorkflow,
        CreateCustomersWorkflow,
        DeleteCustomersWorkflow,
        RemoveCustomerAccountWorkflow,
        UpdateCustomersWorkflow,
    )
    from workflows.events import DeliverEventsWorkflow, EventRelayWorkflow
    from workflows.groups import (
        CreateCustomerGroupsWorkflow,
        DeleteCustomerGroupsWorkflow,
        LinkCustomerGroupsToCustomerWorkflow,
        LinkCustomersToCustomerGroupWorkflow,
        UpdateCustomerGroupsWorkflow,
    )
    from workflows.maintenance import (
        EraseCustomerWorkflow,
        InvariantCheckWorkflow,
        RetentionWorkflow,
    )

    ALL_WORKFLOWS: list[type]

# workflow class → its module, in ALL_WORKFLOWS order
_MODULES = {
    "CreateCustomersWorkflow": "customers",
    "UpdateCustomersWorkflow": "customers",
    "DeleteCustomersWorkflow": "customers",
    "CreateCustomerAccountWorkflow": "customers",
    "RemoveCustomerAccountWorkflow": "customers",
    "CreateCustomerAddressesWorkflow": "addresses",
    "UpdateCustomerAddressesWorkflow": "addresses",
    "DeleteCustomerAddressesWorkflow": "addresses",
    "CreateCustomerGroupsWorkflow": "groups",
    "UpdateCustomerGroupsWorkflow": "groups",
    "DeleteCustomerGroupsWorkflow": "groups",
    "LinkCustomersToCustomerGroupWorkflow": "groups",
    "LinkCustomerGroupsToCustomerWorkflow": "groups",
    "EventRelayWorkflow": "events",
    "DeliverEventsWorkflow": "events",
    "InvariantCheckWorkflow": "maintenance",
    "RetentionWorkflow": "maintenance",
    "EraseCustomerWorkflow": "maintenance",
    "ImportCustomersWorkflow": "bulk",
    "ExportCustomersWorkflow": "bulk",
}


def __getattr__(name: str) -> Any:
    if name == "ALL_WORKFLOWS":
        return [__getattr__(workflow) for workflow in _MODULES]
    module = _MODULES.get(name)
    if module == "customers":
        from workflows import customers

        return getattr(customers, name)
    if module == "addresses":
        from workflows import addresses

        return getattr(addresses, name)
    if module == "groups":
        from workflows import groups

        return getattr(groups, name)
    if module == "events":
        from workflows import events

        return getattr(events, name)
    if module == "maintenance":
        from workflows import maintenance

        return getattr(maintenance, name)
    if module == "bulk":
        from workflows import bulk

        return getattr(bulk, name)
    raise AttributeError(f"module 'workflows' has no attribute {name!r}")


__all__ = [
    "ALL_WORKFLOWS",
    "CreateCustomerAccountWorkflow",
    "CreateCustomerAddressesWorkflow",
    "CreateCustomerGroupsWorkflow",
    "CreateCustomersWorkflow",
    "DeleteCustomerAddressesWorkflow",
    "DeleteCustomerGroupsWorkflow",
    "DeleteCustomersWorkflow",
    "DeliverEventsWorkflow",
    "EraseCustomerWorkflow",
    "EventRelayWorkflow",
    "ExportCustomersWorkflow",
    "ImportCustomersWorkflow",
    "InvariantCheckWorkflow",
    "LinkCustomerGroupsToCustomerWorkflow",
    "LinkCustomersToCustomerGroupWorkflow",
    "RemoveCustomerAccountWorkflow",
    "RetentionWorkflow",
    "UpdateCustomerAddressesWorkflow",
    "UpdateCustomerGroupsWorkflow",
    "UpdateCustomersWorkflow",
]
