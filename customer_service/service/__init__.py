"""The Customer Module service: a thin facade (`CustomerModuleService`) over one module per
entity (`customers`, `addresses`, `groups`, `memberships`), `accounts`, the event `outbox` and
the generic write layer they share (`writes`)."""

from customer_service.service.facade import CustomerModuleService

__all__ = ["CustomerModuleService"]
