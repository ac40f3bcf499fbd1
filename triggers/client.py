"""`CustomerFlows`: the typed Python client. Triggers run as workflows; reads go to PostgreSQL.

Every trigger validates its input before anything is started (bad input never reaches Temporal),
starts the workflow with a readable summary and, with a `request_id`, a business-key workflow id:
repeating a trigger with the same request id returns the first run's result instead of running
twice (a run that failed — and was compensated — may be retried with the same id).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel
from temporalio.client import WorkflowHandle

from customer_service.schemas import AddressDTO, CustomerDTO, GroupDTO
from customer_service.validation import validate
from triggers.base import FlowError, FlowsBase, saga_attributes
from triggers.bulk import BulkFlows
from workflows import (
    CreateCustomerAccountWorkflow,
    CreateCustomerAddressesWorkflow,
    CreateCustomerGroupsWorkflow,
    CreateCustomersWorkflow,
    DeleteCustomerAddressesWorkflow,
    DeleteCustomerGroupsWorkflow,
    DeleteCustomersWorkflow,
    LinkCustomerGroupsToCustomerWorkflow,
    LinkCustomersToCustomerGroupWorkflow,
    RemoveCustomerAccountWorkflow,
    UpdateCustomerAddressesWorkflow,
    UpdateCustomerGroupsWorkflow,
    UpdateCustomersWorkflow,
)
from workflows.contracts import (
    AddressesResult,
    CreateCustomerAccountInput,
    CreateCustomerAddressesInput,
    CreateCustomerGroupsInput,
    CreateCustomersInput,
    CustomerResult,
    CustomersResult,
    DeleteCustomerAddressesInput,
    DeleteCustomerGroupsInput,
    DeleteCustomersInput,
    GroupsResult,
    IdsResult,
    LinkInput,
    LinkResult,
    RemoveCustomerAccountInput,
    UpdateCustomerAddressesInput,
    UpdateCustomerGroupsInput,
    UpdateCustomersInput,
)
from workflows.visibility import short


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


__all__ = ["CustomerFlows", "FlowError"]


class CustomerFlows(BulkFlows, FlowsBase):
    """Start customer workflows and read customers: `create_customers(...)` waits for the run and
    returns its result, `start_create_customers(...)` returns its handle. Connecting, the reads
    and finding runs: see `FlowsBase`; bulk import and export: see `BulkFlows`."""

    # --- customers -----------------------------------------------------------------------------

    async def start_create_customers(
        self,
        customers: Sequence[Mapping[str, Any] | BaseModel],
        *,
        additional_data: dict[str, Any] | None = None,
        request_id: str | None = None,
    ) -> WorkflowHandle[Any, CustomersResult]:
        arg = validate(
            CreateCustomersInput,
            {"customers_data": list(customers), "additional_data": additional_data},
            "",
        )
        labels = [c.email or c.first_name for c in arg.customers_data]
        summary = f"Create {_plural(len(labels), 'customer')}: {short(labels)}"
        return await self._start(
            CreateCustomersWorkflow.run,
            arg,
            "create-customers",
            summary,
            request_id,
            saga_attributes(emails=[c.email for c in arg.customers_data]),
        )

    async def create_customers(self, customers: Sequence[Any], **kw: Any) -> list[CustomerDTO]:
        handle = await self.start_create_customers(customers, **kw)
        return (await self._result(handle, CustomersResult)).customers

    async def start_update_customers(
        self,
        selector: Mapping[str, Any] | str,
        update: Mapping[str, Any],
        *,
        additional_data: dict[str, Any] | None = None,
        request_id: str | None = None,
    ) -> WorkflowHandle[Any, CustomersResult]:
        selector = {"id": selector} if isinstance(selector, str) else dict(selector)
        arg = validate(
            UpdateCustomersInput,
            {"selector": selector, "update": dict(update), "additional_data": additional_data},
            "",
        )
        from customer_service.schemas import UpdateCustomerInput

        validate(UpdateCustomerInput, arg.update, "update")
        target = selector.get("id") if isinstance(selector.get("id"), str) else "selected customers"
        summary = f"Update customer {target}: {', '.join(arg.update)}"
        return await self._start(
            UpdateCustomersWorkflow.run, arg, "update-customers", summary, request_id
        )

    async def update_customers(self, selector: Any, update: Any, **kw: Any) -> list[CustomerDTO]:
        handle = await self.start_update_customers(selector, update, **kw)
        return (await self._result(handle, CustomersResult)).customers

    async def start_delete_customers(
        self, ids: Sequence[str], *, request_id: str | None = None
    ) -> WorkflowHandle[Any, IdsResult]:
        arg = validate(DeleteCustomersInput, {"ids": list(ids)}, "")
        summary = f"Delete {_plural(len(arg.ids), 'customer')}: {short(arg.ids)}"
        return await self._start(
            DeleteCustomersWorkflow.run, arg, "delete-customers", summary, request_id
        )

    async def delete_customers(self, ids: Sequence[str], **kw: Any) -> list[str]:
        handle = await self.start_delete_customers(ids, **kw)
        return (await self._result(handle, IdsResult)).ids

    async def start_register_customer(
        self, auth_identity_id: str, customer: Mapping[str, Any], *, request_id: str | None = None
    ) -> WorkflowHandle[Any, CustomerResult]:
        arg = validate(
            CreateCustomerAccountInput,
            {"auth_identity_id": auth_identity_id, "customer_data": dict(customer)},
            "",
        )
        summary = f"Register customer {arg.customer_data.email}"
        return await self._start(
            CreateCustomerAccountWorkflow.run, arg, "create-customer-account", summary, request_id
        )

    async def register_customer(
        self, auth_identity_id: str, customer: Any, **kw: Any
    ) -> CustomerDTO:
        handle = await self.start_register_customer(auth_identity_id, customer, **kw)
        return (await self._result(handle, CustomerResult)).customer

    async def start_remove_customer_account(
        self, customer_id: str, *, request_id: str | None = None
    ) -> WorkflowHandle[Any, IdsResult]:
        arg = validate(RemoveCustomerAccountInput, {"customer_id": customer_id}, "")
        return await self._start(
            RemoveCustomerAccountWorkflow.run,
            arg,
            "remove-customer-account",
            f"Remove customer account {customer_id}",
            request_id,
        )

    async def remove_customer_account(self, customer_id: str, **kw: Any) -> str:
        handle = await self.start_remove_customer_account(customer_id, **kw)
        return (await self._result(handle, IdsResult)).ids[0]

    # --- addresses -----------------------------------------------------------------------------

    async def start_create_addresses(
        self,
        addresses: Sequence[Mapping[str, Any] | BaseModel],
        *,
        additional_data: dict[str, Any] | None = None,
        request_id: str | None = None,
    ) -> WorkflowHandle[Any, AddressesResult]:
        arg = validate(
            CreateCustomerAddressesInput,
            {"addresses": list(addresses), "additional_data": additional_data},
            "",
        )
        customers = sorted({a.customer_id for a in arg.addresses})
        summary = f"Create {_plural(len(arg.addresses), 'address')} for {short(customers)}"
        summary = summary.replace("addresss", "addresses")
        return await self._start(
            CreateCustomerAddressesWorkflow.run,
            arg,
            "create-customer-addresses",
            summary,
            request_id,
        )

    async def create_addresses(self, addresses: Sequence[Any], **kw: Any) -> list[AddressDTO]:
        handle = await self.start_create_addresses(addresses, **kw)
        return (await self._result(handle, AddressesResult)).addresses

    async def start_update_addresses(
        self,
        selector: Mapping[str, Any] | str,
        update: Mapping[str, Any],
        *,
        additional_data: dict[str, Any] | None = None,
        request_id: str | None = None,
    ) -> WorkflowHandle[Any, AddressesResult]:
        selector = {"id": selector} if isinstance(selector, str) else dict(selector)
        arg = validate(
            UpdateCustomerAddressesInput,
            {"selector": selector, "update": dict(update), "additional_data": additional_data},
            "",
        )
        from customer_service.schemas import UpdateAddressInput

        validate(UpdateAddressInput, arg.update, "update")
        target = selector.get("id") if isinstance(selector.get("id"), str) else "selected addresses"
        return await self._start(
            UpdateCustomerAddressesWorkflow.run,
            arg,
            "update-customer-addresses",
            f"Update address {target}: {', '.join(arg.update)}",
            request_id,
        )

    async def update_addresses(self, selector: Any, update: Any, **kw: Any) -> list[AddressDTO]:
        handle = await self.start_update_addresses(selector, update, **kw)
        return (await self._result(handle, AddressesResult)).addresses

    async def start_delete_addresses(
        self, ids: Sequence[str], *, request_id: str | None = None
    ) -> WorkflowHandle[Any, IdsResult]:
        arg = validate(DeleteCustomerAddressesInput, {"ids": list(ids)}, "")
        return await self._start(
            DeleteCustomerAddressesWorkflow.run,
            arg,
            "delete-customer-addresses",
            f"Delete address(es) {short(arg.ids)}",
            request_id,
        )

    async def delete_addresses(self, ids: Sequence[str], **kw: Any) -> list[str]:
        handle = await self.start_delete_addresses(ids, **kw)
        return (await self._result(handle, IdsResult)).ids

    # --- groups --------------------------------------------------------------------------------

    async def start_create_groups(
        self, groups: Sequence[Mapping[str, Any] | BaseModel], *, request_id: str | None = None
    ) -> WorkflowHandle[Any, GroupsResult]:
        arg = validate(CreateCustomerGroupsInput, {"groups": list(groups)}, "")
        names = [g.name for g in arg.groups]
        return await self._start(
            CreateCustomerGroupsWorkflow.run,
            arg,
            "create-customer-groups",
            f"Create {_plural(len(names), 'group')}: {short(names)}",
            request_id,
        )

    async def create_groups(self, groups: Sequence[Any], **kw: Any) -> list[GroupDTO]:
        handle = await self.start_create_groups(groups, **kw)
        return (await self._result(handle, GroupsResult)).groups

    async def start_update_groups(
        self,
        selector: Mapping[str, Any] | str,
        update: Mapping[str, Any],
        *,
        request_id: str | None = None,
    ) -> WorkflowHandle[Any, GroupsResult]:
        selector = {"id": selector} if isinstance(selector, str) else dict(selector)
        arg = validate(
            UpdateCustomerGroupsInput, {"selector": selector, "update": dict(update)}, ""
        )
        from customer_service.schemas import UpdateGroupInput

        validate(UpdateGroupInput, arg.update, "update")
        target = selector.get("id") if isinstance(selector.get("id"), str) else "selected groups"
        return await self._start(
            UpdateCustomerGroupsWorkflow.run,
            arg,
            "update-customer-groups",
            f"Update group {target}: {', '.join(arg.update)}",
            request_id,
        )

    async def update_groups(self, selector: Any, update: Any, **kw: Any) -> list[GroupDTO]:
        handle = await self.start_update_groups(selector, update, **kw)
        return (await self._result(handle, GroupsResult)).groups

    async def start_delete_groups(
        self, ids: Sequence[str], *, request_id: str | None = None
    ) -> WorkflowHandle[Any, IdsResult]:
        arg = validate(DeleteCustomerGroupsInput, {"ids": list(ids)}, "")
        return await self._start(
            DeleteCustomerGroupsWorkflow.run,
            arg,
            "delete-customer-groups",
            f"Delete group(s) {short(arg.ids)}",
            request_id,
        )

    async def delete_groups(self, ids: Sequence[str], **kw: Any) -> list[str]:
        handle = await self.start_delete_groups(ids, **kw)
        return (await self._result(handle, IdsResult)).ids

    async def start_link_customers_to_group(
        self,
        group_id: str,
        *,
        add: Sequence[str] = (),
        remove: Sequence[str] = (),
        request_id: str | None = None,
    ) -> WorkflowHandle[Any, LinkResult]:
        arg = validate(LinkInput, {"id": group_id, "add": list(add), "remove": list(remove)}, "")
        return await self._start(
            LinkCustomersToCustomerGroupWorkflow.run,
            arg,
            "link-customers-to-customer-group",
            f"Group {group_id}: add {len(arg.add)}, remove {len(arg.remove)} customer(s)",
            request_id,
        )

    async def link_customers_to_group(self, group_id: str, **kw: Any) -> LinkResult:
        handle = await self.start_link_customers_to_group(group_id, **kw)
        return await self._result(handle, LinkResult)

    async def start_link_groups_to_customer(
        self,
        customer_id: str,
        *,
        add: Sequence[str] = (),
        remove: Sequence[str] = (),
        request_id: str | None = None,
    ) -> WorkflowHandle[Any, LinkResult]:
        arg = validate(LinkInput, {"id": customer_id, "add": list(add), "remove": list(remove)}, "")
        return await self._start(
            LinkCustomerGroupsToCustomerWorkflow.run,
            arg,
            "link-customer-groups-to-customer",
            f"Customer {customer_id}: add {len(arg.add)}, remove {len(arg.remove)} group(s)",
            request_id,
        )

    async def link_groups_to_customer(self, customer_id: str, **kw: Any) -> LinkResult:
        handle = await self.start_link_groups_to_customer(customer_id, **kw)
        return await self._result(handle, LinkResult)
