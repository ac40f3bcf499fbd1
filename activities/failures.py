"""Domain errors as Temporal failures: the one place a `CustomerModuleError` becomes an
`ApplicationError`. Pure module: workflows raise their own business errors through it too."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import ParamSpec, TypeVar

from temporalio.exceptions import ApplicationError, ApplicationErrorCategory

from customer_service.errors import CustomerModuleError, InvalidDataError
from customer_service.schemas import MAX_RESULT_BYTES, too_large

P = ParamSpec("P")
R = TypeVar("R")


def application_error(err: CustomerModuleError) -> ApplicationError:
    """Non-retryable, typed like Medusa's error (`not_found`, `invalid_data`, …), its details
    the error's dict. Benign: an expected business outcome, not logged as a worker failure."""
    return ApplicationError(
        err.message,
        err.to_dict(),
        type=err.type,
        non_retryable=True,
        category=ApplicationErrorCategory.BENIGN,
    )


def business_errors(fn: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
    """An activity whose domain errors end it at once as `application_error`s; anything else
    (connection refused, serialization failure, timeouts) propagates and Temporal retries it.
    A write step's result too large for Temporal's history fails inside its transaction, before
    the commit (`WriteContext.max_result_bytes`, `oplog.fits`): nothing fails after a commit."""

    @functools.wraps(fn)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return await fn(*args, **kwargs)
        except CustomerModuleError as err:
            raise application_error(err) from None

    return wrapper


def bounded_read(fn: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
    """A read step (it writes nothing) whose result is too large for Temporal's history fails
    typed, instead of the workflow task failing on the oversized payload again and again. Goes
    inside `business_errors`, which makes the error final."""

    @functools.wraps(fn)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        result = await fn(*args, **kwargs)
        if result is not None and too_large(result):
            raise InvalidDataError(
                f"Invalid request: the selection is too large for one run (it exceeds "
                f"{MAX_RESULT_BYTES} bytes); narrow it"
            )
        return result

    return wrapper
