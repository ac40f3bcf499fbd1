"""The Customer Module: customers, addresses, groups and memberships on PostgreSQL.

The names below load lazily, so pure submodules (`schemas`, `ids`, `errors`) can be imported —
by workflow code, inside Temporal's sandbox — without pulling in SQLAlchemy.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from customer_service.db import create_engine, session_factory
    from customer_service.errors import (
        AlreadyExistsError,
        ConflictError,
        CustomerModuleError,
        DuplicateError,
        InvalidDataError,
        NotFoundError,
    )
    from customer_service.service import CustomerModuleService

_EXPORTS = {
    "create_engine": "customer_service.db",
    "session_factory": "customer_service.db",
    "AlreadyExistsError": "customer_service.errors",
    "ConflictError": "customer_service.errors",
    "CustomerModuleError": "customer_service.errors",
    "DuplicateError": "customer_service.errors",
    "InvalidDataError": "customer_service.errors",
    "NotFoundError": "customer_service.errors",
    "CustomerModuleService": "customer_service.service",
}

__all__ = [
    "AlreadyExistsError",
    "ConflictError",
    "CustomerModuleError",
    "CustomerModuleService",
    "DuplicateError",
    "InvalidDataError",
    "NotFoundError",
    "create_engine",
    "session_factory",
]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'customer_service' has no attribute {name!r}")
