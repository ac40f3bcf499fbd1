"""What every saga workflow shares: its saga, the `progress` query, input checks. It defines no
workflow class and calls nothing non-deterministic: the workflow modules pass it through the
sandbox (one import for all runs), like the saga.

A workflow module imports a passed-through `workflows` module by its full name
(`import workflows.steps as steps` or `from workflows.steps import ...`), never as
`from workflows import steps`: the sandbox re-imports the `workflows` package for each run, and
that form then finds no `steps` on it and loads a fresh copy of the module, bypassing the
pass-through (tests/workflows/test_determinism.py checks it)."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel
from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.failures import application_error
    from customer_service.errors import CustomerModuleError, NotFoundError
    from customer_service.validation import validate
    from workflows.contracts import Progress
    from workflows.saga import Saga

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
        return validate(model, data, field)
    except CustomerModuleError as err:
        raise application_error(err) from None


def not_found(message: str, field: str) -> BaseException:
    return application_error(NotFoundError(message, field=field))
