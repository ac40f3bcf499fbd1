"""`CustomerFlows`: the typed Python client. Triggers run as workflows; reads go to PostgreSQL.

Every trigger validates its input before anything is started (bad input never reaches Temporal),
starts the workflow with a readable summary and, with a `request_id`, a business-key workflow id:
repeating a trigger with the same request id returns the first run's result instead of running
twice (a run that failed — and was compensated — may be retried with the same id).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

from pydantic import BaseModel
from temporalio.client import Client, WorkflowFailureError, WorkflowHandle
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCError

from customer_service.errors import InvalidDataError
from customer_service.invariants import Violation
from customer_service.schemas import AddressDTO, CustomerDTO, GroupDTO
from customer_service.validation import validate
from settings import Settings, get_settings
from triggers.connection import connect
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
from workflows.models import (
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

R = TypeVar("R")
MAX_REQUEST_ID = 200


class FlowError(Exception):
    """A run failed: `type` is the Medusa error type (or CompensationFailed), `message` says why."""

    def __init__(self, type_: str, message: str, workflow_id: str, details: Any = None) -> None:
        super().__init__(f"{type_}: {message}")
        self.type = type_
        self.message = message
        self.workflow_id = workflow_id
        self.details = details


def _short(values: Sequence[str | None], limit: int = 3) -> str:
    shown = [v for v in values if v][:limit]
    more = len(values) - len(shown)
    return ", ".join(shown) + (f" and {more} more" if more > 0 else "")


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


class CustomerFlows:
    """Start customer workflows and read customers.

    `service` (a `CustomerModuleService`) serves the reads; without one, only triggers work.
    """

    def __init__(self, client: Client, settings: Settings, service: Any | None = None) -> None:
        self.client = client
        self.settings = settings
        self.service = service

    @classmethod
    async def connect(
        cls, settings: Settings | None = None, *, reads: bool = True
    ) -> CustomerFlows:
        """Connect to the configured Temporal (and, with `reads`, PostgreSQL).

        Raises:
            ConfigurationError: `TEMPORAL_ADDRESS` (or, with `reads`, `DATABASE_URL`) is unset
                outside dev mode.
        """
        settings = settings or get_settings()
        database_url = settings.require_database_url() if reads else None
        client = await connect(settings)
        service = None
        if database_url is not None:
            from customer_service import CustomerModuleService, create_engine, session_factory

            engine = create_engine(database_url, pool_size=2)
            service = CustomerModuleService(session_factory(engine))
        return cls(client, settings, service)

    # --- plumbing ------------------------------------------------------------------------------

    def ui_link(self, workflow_id: str) -> str:
        return (
            f"{self.settings.temporal_ui_url.rstrip('/')}/namespaces/"
            f"{self.settings.temporal_namespace}/workflows/{workflow_id}"
        )

    async def _start(
        self,
        run: Any,
        arg: BaseModel,
        kind: str,
        summary: str,
        request_id: str | None,
    ) -> WorkflowHandle[Any, Any]:
        if request_id is not None and not (
            isinstance(request_id, str)
            and 0 < len(request_id) <= MAX_REQUEST_ID
            and request_id.isprintable()
        ):
            raise InvalidDataError(
                f"Invalid request_id: 1 to {MAX_REQUEST_ID} printable characters",
                field="request_id",
            )
        workflow_id = f"{kind}-{request_id or uuid.uuid4().hex}"
        try:
            return await self.client.start_workflow(
                run,
                arg,
                id=workflow_id,
                task_queue=self.settings.task_queue,
                static_summary=summary,
                # A repeated request joins the running run or returns the finished one's result;
                # only a failed (compensated) run may be started again under the same id.
                id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
                id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
                # With a worker on this client's task queue in this process, its first workflow
                # task comes back with the start response; otherwise this changes nothing.
                request_eager_start=True,
            )
        except WorkflowAlreadyStartedError:
            return self.client.get_workflow_handle_for(run, workflow_id)

    async def _result(self, handle: WorkflowHandle[Any, Any], result_type: type[R]) -> R:
        try:
            result = await handle.result()
            return result if isinstance(result, result_type) else result_type.model_validate(result)  # type: ignore[attr-defined]
        except WorkflowFailureError as err:
            cause = err.cause
            if isinstance(cause, ApplicationError):
                details = cause.details[0] if cause.details else None
                raise FlowError(cause.type or "error", cause.message, handle.id, details) from None
            raise FlowError(type(cause).__name__, str(cause), handle.id) from None

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
        summary = f"Create {_plural(len(labels), 'customer')}: {_short(labels)}"
        return await self._start(
            CreateCustomersWorkflow.run, arg, "create-customers", summary, request_id
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
        summary = f"Delete {_plural(len(arg.ids), 'customer')}: {_short(arg.ids)}"
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
        summary = f"Create {_plural(len(arg.addresses), 'address')} for {_short(customers)}"
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
            f"Delete address(es) {_short(arg.ids)}",
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
            f"Create {_plural(len(names), 'group')}: {_short(names)}",
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
            f"Delete group(s) {_short(arg.ids)}",
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

    # --- reads (straight from PostgreSQL through the Customer Module) ---------------------------

    def _reads(self) -> Any:
        if self.service is None:
            raise RuntimeError("this CustomerFlows was connected without reads (reads=False)")
        return self.service

    async def retrieve_customer(self, customer_id: str, config: Any = None) -> CustomerDTO:
        result: CustomerDTO = await self._reads().retrieve_customer(customer_id, config)
        return result

    async def list_customers(
        self, filters: Any = None, config: Any = None
    ) -> tuple[list[CustomerDTO], int]:
        result: tuple[list[CustomerDTO], int] = await self._reads().list_and_count_customers(
            filters, config
        )
        return result

    async def list_addresses(
        self, filters: Any = None, config: Any = None
    ) -> tuple[list[AddressDTO], int]:
        result: tuple[
            list[AddressDTO], int
        ] = await self._reads().list_and_count_customer_addresses(filters, config)
        return result

    async def list_groups(
        self, filters: Any = None, config: Any = None
    ) -> tuple[list[GroupDTO], int]:
        result: tuple[list[GroupDTO], int] = await self._reads().list_and_count_customer_groups(
            filters, config
        )
        return result

    # --- finding runs ---------------------------------------------------------------------------

    async def find_runs(
        self,
        *,
        email: str | None = None,
        customer_id: str | None = None,
        group_id: str | None = None,
        saga_status: str | None = None,
        limit: int = 20,
    ) -> list[dict[str, Any]]:
        """Runs by the search attributes the Web UI uses. `email` is matched through its tag
        (a keyed hash when a PII key is configured), so callers just pass the address."""
        from codec.tags import email_tag

        clauses = []
        for attribute, value in (
            ("CustomerEmail", email_tag(email) if email else None),
            ("CustomerId", customer_id),
            ("CustomerGroupId", group_id),
            ("SagaStatus", saga_status),
        ):
            if value:
                escaped = value.replace("\\", "\\\\").replace('"', '\\"')
                clauses.append(f'{attribute} = "{escaped}"')
        query = " AND ".join(clauses) or None
        runs: list[dict[str, Any]] = []
        async for execution in self.client.list_workflows(query, limit=limit):
            runs.append(
                {
                    "workflow_id": execution.id,
                    "type": execution.workflow_type,
                    "status": execution.status.name.lower() if execution.status else None,
                    "start_time": execution.start_time.isoformat(),
                    "ui": self.ui_link(execution.id),
                }
            )
        return runs

    # --- consistency ------------------------------------------------------------------------------

    async def run_outcome(self, event_group_id: str) -> str | None:
        """The outcome of the run that staged an event group ("completed", "failed", ...)."""
        workflow_id, _, run_id = event_group_id.rpartition(":")
        if not workflow_id:
            return None
        try:
            description = await self.client.get_workflow_handle(
                workflow_id, run_id=run_id
            ).describe()
        except RPCError:
            return None
        return description.status.name.lower() if description.status else None

    async def check(self) -> list[Violation]:
        """Run the invariant checker over the database, asking Temporal for run outcomes."""
        from customer_service.invariants import check_invariants

        return await check_invariants(self._reads().sessions, self.run_outcome)
