"""Customer workflows: deterministic sagas over the Customer Module activities.

The names below are loaded on first use (PEP 562). The workflow sandbox imports the package and
the module of the workflow being run afresh for every run, and `@workflow.defn` inspects every
class of that module: each saga workflow has a module of its own (helpers live in the
passed-through `workflows.steps`), so a run processes its one class, not its family's five.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from workflows.create_customer_account import CreateCustomerAccountWorkflow
    from workflows.create_customer_addresses import CreateCustomerAddressesWorkflow
    from workflows.create_customer_groups import CreateCustomerGroupsWorkflow
    from workflows.create_customers import CreateCustomersWorkflow
    from workflows.delete_customer_addresses import DeleteCustomerAddressesWorkflow
    from workflows.delete_customer_groups import DeleteCustomerGroupsWorkflow
    from workflows.delete_customers import DeleteCustomersWorkflow
    from workflows.events import DeliverEventsWorkflow, EventRelayWorkflow
    from workflows.link_customer_groups_to_customer import LinkCustomerGroupsToCustomerWorkflow
    from workflows.link_customers_to_customer_group import LinkCustomersToCustomerGroupWorkflow
    from workflows.maintenance import (
        EraseCustomerWorkflow,
        InvariantCheckWorkflow,
        RetentionWorkflow,
    )
    from workflows.remove_customer_account import RemoveCustomerAccountWorkflow
    from workflows.update_customer_addresses import UpdateCustomerAddressesWorkflow
    from workflows.update_customer_groups import UpdateCustomerGroupsWorkflow
    from workflows.update_customers import UpdateCustomersWorkflow

    ALL_WORKFLOWS: list[type]

# workflow class → its module, in ALL_WORKFLOWS order
_MODULES = {
    "CreateCustomersWorkflow": "create_customers",
    "UpdateCustomersWorkflow": "update_customers",
    "DeleteCustomersWorkflow": "delete_customers",
    "CreateCustomerAccountWorkflow": "create_customer_account",
    "RemoveCustomerAccountWorkflow": "remove_customer_account",
    "CreateCustomerAddressesWorkflow": "create_customer_addresses",
    "UpdateCustomerAddressesWorkflow": "update_customer_addresses",
    "DeleteCustomerAddressesWorkflow": "delete_customer_addresses",
    "CreateCustomerGroupsWorkflow": "create_customer_groups",
    "UpdateCustomerGroupsWorkflow": "update_customer_groups",
    "DeleteCustomerGroupsWorkflow": "delete_customer_groups",
    "LinkCustomersToCustomerGroupWorkflow": "link_customers_to_customer_group",
    "LinkCustomerGroupsToCustomerWorkflow": "link_customer_groups_to_customer",
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
    if module == "create_customers":
        from workflows import create_customers

        return getattr(create_customers, name)
    if module == "update_customers":
        from workflows import update_customers

        return getattr(update_customers, name)
    if module == "delete_customers":
        from workflows import delete_customers

        return getattr(delete_customers, name)
    if module == "create_customer_account":
        from workflows import create_customer_account

        return getattr(create_customer_account, name)
    if module == "remove_customer_account":
        from workflows import remove_customer_account

        return getattr(remove_customer_account, name)
    if module == "create_customer_groups":
        from workflows import create_customer_groups

        return getattr(create_customer_groups, name)
    if module == "update_customer_groups":
        from workflows import update_customer_groups

        return getattr(update_customer_groups, name)
    if module == "delete_customer_groups":
        from workflows import delete_customer_groups

        return getattr(delete_customer_groups, name)
    if module == "link_customers_to_customer_group":
        from workflows import link_customers_to_customer_group

        return getattr(link_customers_to_customer_group, name)
    if module == "link_customer_groups_to_customer":
        from workflows import link_customer_groups_to_customer

        return getattr(link_customer_groups_to_customer, name)
    if module == "create_customer_addresses":
        from workflows import create_customer_addresses

        return getattr(create_customer_addresses, name)
    if module == "update_customer_addresses":
        from workflows import update_customer_addresses

        return getattr(update_customer_addresses, name)
    if module == "delete_customer_addresses":
        from workflows import delete_customer_addresses

        return getattr(delete_customer_addresses, name)
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
