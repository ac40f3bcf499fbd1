"""What `CustomerFlows` does besides starting workflows: connecting, starting a run under a
business-key workflow id and awaiting its result (`FlowError` when it failed), the reads (straight
from PostgreSQL through the Customer Module), finding runs by search attribute, and the
consistency check. `triggers.client` adds one typed trigger per workflow on top."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import timedelta
from typing import Any, Self, TypeVar

from pydantic import BaseModel
from temporalio.client import Client, WorkflowFailureError, WorkflowHandle
from temporalio.common import (
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCError

from activities.contracts import HookName
from activities.hooks import load_hooks_module, registry
from customer_service.errors import InvalidDataError
from customer_service.invariants import Violation
from customer_service.schemas import AddressDTO, CustomerDTO, GroupDTO
from settings import Settings, get_settings
from triggers.connection import connect
from triggers.idempotency import DIGEST_MEMO, check_reuse, input_digest
from workflows.contracts import HookedInput
from workflows.visibility import CUSTOMER_EMAIL, SAGA_STATUS, email_values

R = TypeVar("R")
MAX_REQUEST_ID = 200
# A run's result is long-polled from its history. The dev server was seen to miss a completion
# notice now and then (the wait then lasted its whole 20 s long-poll window, with the run long
# completed: docs/reliability.md); asked again every RESULT_POLL, such a miss costs at most that.
RESULT_POLL = timedelta(seconds=5)


class FlowError(Exception):
    """A run failed: `type` is the Medusa error type (or CompensationFailed), `message` says why."""

    def __init__(self, type_: str, message: str, workflow_id: str, details: Any = None) -> None:
        super().__init__(f"{type_}: {message}")
        self.type = type_
        self.message = message
        self.workflow_id = workflow_id
        self.details = details


def saga_attributes(emails: Sequence[str | None] = ()) -> list[SearchAttributePair[Any]]:
    """A saga run's search attributes at start: SagaStatus=running, and `emails` (those it
    creates: findable by them from its start, with nothing of them left for the run to upsert)."""
    values = email_values(emails)
    return [
        SearchAttributePair(SAGA_STATUS, "running"),
        *([SearchAttributePair(CUSTOMER_EMAIL, values)] if values else []),
    ]


class FlowsBase:
    """Connection, run plumbing, reads, run search and the consistency check.

    `service` (a `CustomerModuleService`) serves the reads; without one, only triggers work.
    `hooks` are the hook points with handlers in the deployment the runs go to; each run lists
    them in its input. `connect` takes them from `HOOKS_MODULE`; None means the handlers
    registered in this process.
    """

    def __init__(
        self,
        client: Client,
        settings: Settings,
        service: Any | None = None,
        hooks: Sequence[HookName] | None = None,
    ) -> None:
        self.client = client
        self.settings = settings
        self.service = service
        self.hooks = hooks

    @classmethod
    async def connect(cls, settings: Settings | None = None, *, reads: bool = True) -> Self:
        """Connect to the configured Temporal (and, with `reads`, PostgreSQL).

        Raises:
            ConfigurationError: `TEMPORAL_ADDRESS` (or, with `reads`, `DATABASE_URL`) is unset
                outside dev mode.
        """
        settings = settings or get_settings()
        hooks = load_hooks_module(settings.hooks_module).registered()
        database_url = settings.require_database_url() if reads else None
        client = await connect(settings)
        service = None
        if database_url is not None:
            from customer_service import CustomerModuleService, create_engine, session_factory

            engine = create_engine(database_url, pool_size=2)
            service = CustomerModuleService(session_factory(engine))
        return cls(client, settings, service, hooks)

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
        search_attributes: Sequence[SearchAttributePair[Any]] = (),
    ) -> WorkflowHandle[Any, Any]:
        """Start (or join) a run. Its search attributes at start: `search_attributes` if given
        (`saga_attributes`, or a bulk run's), else SagaStatus=running."""
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
        if isinstance(arg, HookedInput) and not arg.hooks:
            # The hook points with handlers in this deployment (HOOKS_MODULE) go into the run's
            # input: fixed in its history, whichever worker runs or replays it.
            hooks = registry.registered() if self.hooks is None else list(self.hooks)
            arg = arg.model_copy(update={"hooks": hooks})
        digest = input_digest(arg)
        if request_id is not None:
            await check_reuse(self.client, workflow_id, digest, request_id)
        try:
            handle = await self.client.start_workflow(
                run,
                arg,
                id=workflow_id,
                task_queue=self.settings.task_queue,
                static_summary=summary,
                task_timeout=timedelta(seconds=self.settings.workflow_task_timeout),
                # A repeated request joins the running run or returns the finished one's result;
                # only a failed (compensated) run may be started again under the same id.
                id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
                id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
                # With a worker on this client's task queue in this process, its first workflow
                # task comes back with the start response; otherwise this changes nothing.
                request_eager_start=True,
                memo={DIGEST_MEMO: digest},
                # The run is findable as running from its start; it upserts only what changes.
                search_attributes=TypedSearchAttributes(
                    list(search_attributes) or [SearchAttributePair(SAGA_STATUS, "running")]
                ),
            )
        except WorkflowAlreadyStartedError:
            handle = self.client.get_workflow_handle_for(run, workflow_id)
        if request_id is not None:  # the run this start joined, if another one won the race
            await check_reuse(self.client, workflow_id, digest, request_id)
        return handle

    async def _result(self, handle: WorkflowHandle[Any, Any], result_type: type[R]) -> R:
        try:
            result = await handle.result(rpc_timeout=RESULT_POLL)
            return result if isinstance(result, result_type) else result_type.model_validate(result)  # type: ignore[attr-defined]
        except WorkflowFailureError as err:
            cause = err.cause
            if isinstance(cause, ApplicationError):
                details = cause.details[0] if cause.details else None
                raise FlowError(cause.type or "error", cause.message, handle.id, details) from None
            raise FlowError(type(cause).__name__, str(cause), handle.id) from None

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
