"""Domain errors. `type` values and message shapes are Medusa's (SPEC §2.4, decision 9)."""

from __future__ import annotations

from typing import Any, ClassVar


class CustomerModuleError(Exception):
    """Base of every business error the Customer Module raises. Never retried."""

    type: ClassVar[str] = "unexpected_state"

    def __init__(self, message: str, *, field: str | None = None, details: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.details = details

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"type": self.type, "message": self.message}
        if self.field is not None:
            data["field"] = self.field
        if self.details is not None:
            data["details"] = self.details
        return data


class NotFoundError(CustomerModuleError):
    type = "not_found"


class InvalidDataError(CustomerModuleError):
    type = "invalid_data"


class AlreadyExistsError(InvalidDataError):
    """A unique rule was hit. Medusa reports these as `invalid_data` "… already exists."."""


class QueryTimeoutError(InvalidDataError):
    """A statement ran past the statement timeout (an expensive filter): `invalid_data`, final —
    retrying the same statement would time out again."""


class DuplicateError(CustomerModuleError):
    type = "duplicate_error"


class ConflictError(CustomerModuleError):
    """A compare-and-set found a value changed by someone else; `details` names the fields."""

    type = "conflict"


class ReleasedError(ConflictError):
    """A compensation came too late: its operation was a run's pivot, committed together with
    the release of the run's events (DESIGN rule 10). It stands; the run must complete."""

    type = "released"


class HookFailedError(CustomerModuleError):
    """A deployment's hook handler (`customersCreated`, ...) raised: the run fails and
    compensates. Not the module's own rule, so not in `BUSINESS_ERROR_TYPES`; the forward
    steps' retry policy names it."""

    type = "hook_failed"


BUSINESS_ERROR_TYPES: tuple[str, ...] = (
    NotFoundError.type,
    InvalidDataError.type,
    DuplicateError.type,
    ConflictError.type,
    ReleasedError.type,
)


class CompensationFailedError(CustomerModuleError):
    """A compensation could not undo its step; an operator must look (SagaStatus marks the run)."""

    type = "CompensationFailed"
