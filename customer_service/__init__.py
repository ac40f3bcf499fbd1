"""The Customer Module: customers, addresses, groups and memberships on PostgreSQL."""

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
