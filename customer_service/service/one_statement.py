"""What a workflow's write as one statement in autocommit (`update_at_once`, `add_at_once`) does
around its SQL: the parameters every such statement takes, the planning of the run's events when
the step is its pivot (`delivery_plan`), and the hand-back to the general path when the
statement wrote nothing."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import exc as sa_exc
from sqlalchemy.ext.asyncio import AsyncEngine

from customer_service import delivery_plan, events, oplog
from customer_service.db import write_once
from customer_service.errors import CustomerModuleError
from customer_service.schemas import WriteContext


def step_params(ctx: WriteContext) -> dict[str, Any]:
    """The operation, the state of its record and of its outbox rows, the release."""
    return {
        "operation_id": ctx.operation_id,
        "state": oplog.State.RELEASED if ctx.release else oplog.State.DONE,
        "status": events.RELEASED if ctx.release else events.STAGED,
        "release": ctx.release,
        "event_group_id": ctx.event_group_id,
    }


async def write(
    engine: AsyncEngine, statement: Callable[[bool], str], params: dict[str, Any], ctx: WriteContext
) -> Any | None:
    """Run `statement(plan)` (with `plan`, it also plans the released events and answers
    `planned`) with `params`; its row, or None when it failed and wrote nothing: a domain error
    (the general path words it) or the operation's record already there (an earlier attempt's,
    or a compensation's fence: the general path answers)."""
    plan = delivery_plan.current() if ctx.release else None
    if plan is not None:
        params = {**params, "local": plan.local}
    try:
        row = await write_once(engine, statement(plan is not None), params)
    except CustomerModuleError:
        return None
    except sa_exc.IntegrityError as exc:
        constraint = getattr(getattr(exc.orig, "diag", None), "constraint_name", None)
        if constraint != "operation_log_pkey":
            raise
        return None
    if plan is not None:
        plan.planned = bool(row.planned)
    return row
