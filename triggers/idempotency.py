"""Request ids (idempotency keys): a run started under one records a digest of its input in its
memo. Reusing the key with the same input joins that run or returns its result; with a different
input it is a typed `conflict` (never the first run's result passed off as the second's); a key
whose run ended `compensation_failed` is refused until an operator has resolved that run. Keys are
remembered as long as Temporal keeps the run: the namespace's retention period (docs/security.md).
"""

from __future__ import annotations

import hashlib

from pydantic import BaseModel
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.service import RPCError, RPCStatusCode

from customer_service.errors import ConflictError
from workflows.visibility import SAGA_STATUS

DIGEST_MEMO = "input_digest"


class RequestIdConflictError(ConflictError):
    """A request id reused for a different input, or for a run an operator must resolve."""


def input_digest(arg: BaseModel) -> str:
    """The request's own input: the hook points a deployment adds are not part of it."""
    return hashlib.sha256(arg.model_dump_json(exclude={"hooks"}).encode()).hexdigest()


async def check_reuse(client: Client, workflow_id: str, digest: str, request_id: str) -> None:
    """Raise `RequestIdConflictError` when the run under `workflow_id` (if any) was started with
    another input, or ended compensation_failed."""
    try:
        description = await client.get_workflow_handle(workflow_id).describe()
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            return
        raise
    if (
        description.status == WorkflowExecutionStatus.FAILED
        and description.typed_search_attributes.get(SAGA_STATUS) == "compensation_failed"
    ):
        raise RequestIdConflictError(
            f"request_id {request_id}: its run {workflow_id} ended compensation_failed and "
            "needs an operator; the request id cannot be reused until then",
            field="request_id",
        )
    recorded = await description.memo_value(DIGEST_MEMO, None, type_hint=str)
    if recorded is not None and recorded != digest:
        raise RequestIdConflictError(
            f"request_id {request_id} was already used for a different input "
            f"(run {workflow_id}); use a new request_id for a new request",
            field="request_id",
        )
