"""What every saga workflow shares: the saga, the `progress` query, input validation."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from temporalio import workflow
from temporalio.exceptions import ApplicationError

from workflows.saga import Saga

with workflow.unsafe.imports_passed_through():
    from workflows.models import Progress

M = TypeVar("M", bound=BaseModel)


class SagaWorkflow:
    def __init__(self) -> None:
        self.saga = Saga()

    @workflow.query
    def progress(self) -> Progress:
        """The run's steps so far and their states (also what the Web UI's query tab shows)."""
        return Progress(status=self.saga.status, steps=self.saga.steps)


def validated(model: type[M], data: dict[str, Any], field: str) -> M:
    """Validate a partial update inside the workflow: bad input fails the run, typed, at once."""
    try:
        return model.model_validate(data)
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join([field, *(str(p) for p in first["loc"])])
        message = (
            f"Unrecognized field: '{where}'"
            if first["type"] == "extra_forbidden"
            else f"Invalid {where}: {first['msg'].removeprefix('Value error, ')}"
        )
        raise ApplicationError(
            message, {"type": "invalid_data", "message": message, "field": where},
            type="invalid_data", non_retryable=True,
        ) from None  # fmt: skip


def not_found(message: str, field: str) -> ApplicationError:
    return ApplicationError(
        message,
        {"type": "not_found", "message": message, "field": field},
        type="not_found",
        non_retryable=True,
    )
