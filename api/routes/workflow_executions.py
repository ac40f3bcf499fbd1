"""A run as the API shows it: where a `Prefer: respond-async` write's `Location` points."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel
from temporalio.client import WorkflowExecutionStatus, WorkflowFailureError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from api.deps import Admin, ServicesDep
from customer_service.errors import NotFoundError
from workflows.contracts import Progress, StepProgress
from workflows.visibility import SAGA_STATUS

router = APIRouter(prefix="/admin/workflows-executions", tags=["admin: runs"])

QUERY_TIMEOUT = timedelta(seconds=5)


class RunError(BaseModel):
    type: str
    message: str


class WorkflowExecution(BaseModel):
    workflow_id: str
    run_id: str | None
    workflow_type: str
    status: str
    saga_status: str | None
    steps: list[StepProgress] | None
    result: Any = None
    error: RunError | None = None


class WorkflowExecutionResponse(BaseModel):
    workflow_execution: WorkflowExecution


@router.get("/{workflow_id}", response_model=WorkflowExecutionResponse)
async def get_run(services: ServicesDep, _: Admin, workflow_id: str) -> Any:
    """Status, SagaStatus, the steps (the run's `progress` query), and its result or error."""
    handle = services.flows.client.get_workflow_handle(workflow_id)
    try:
        description = await handle.describe()
    except RPCError as exc:
        if exc.status in (RPCStatusCode.NOT_FOUND, RPCStatusCode.INVALID_ARGUMENT):
            raise NotFoundError(f"Workflow execution with id: {workflow_id} was not found") from exc
        raise
    status = description.status or WorkflowExecutionStatus.RUNNING
    steps: list[StepProgress] | None = None
    try:  # a query needs a worker; without one the run is still described
        progress = await asyncio.wait_for(
            handle.query("progress", result_type=Progress, rpc_timeout=QUERY_TIMEOUT),
            QUERY_TIMEOUT.total_seconds(),
        )
        steps = progress.steps
    except (RPCError, TimeoutError):
        steps = None
    result: Any = None
    error: RunError | None = None
    if status == WorkflowExecutionStatus.COMPLETED:
        result = await handle.result()
    elif status != WorkflowExecutionStatus.RUNNING:
        try:
            await handle.result()
        except WorkflowFailureError as exc:
            cause = exc.cause
            kind = cause.type if isinstance(cause, ApplicationError) and cause.type else "error"
            error = RunError(type=kind, message=getattr(cause, "message", str(cause)))
    return {
        "workflow_execution": WorkflowExecution(
            workflow_id=description.id,
            run_id=description.run_id,
            workflow_type=description.workflow_type,
            status=status.name.lower(),
            saga_status=description.typed_search_attributes.get(SAGA_STATUS),
            steps=steps,
            result=result,
            error=error,
        )
    }
