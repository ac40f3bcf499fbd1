"""The invariant checker: scans the database for states no correct run can leave behind.

Database-only rules run as SQL. Rules about events need each run's outcome, which Temporal
knows: the caller passes `run_outcome(event_group_id) -> status | None` ("completed", "failed",
"canceled", "terminated", "timed_out", "running"; None when unknown).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from customer_service import oplog
from customer_service.delivery_invariants import RULES as DELIVERY_RULES
from customer_service.entities import SPECS

RunOutcome = Callable[[str], Awaitable[str | None]]
# A run that continued as new completed its own part: a bulk import releases each batch's events
# with the batch, in whichever run of the chain ran it.
_FINISHED_ITS_PART = ("completed", "continued_as_new")


@dataclass(frozen=True)
class Violation:
    rule: str
    detail: dict[str, Any]


# rule name → SQL returning one row per violation
_SQL_RULES: dict[str, str] = {
    "address of a missing or deleted customer": """
        SELECT a.id AS address_id, a.customer_id FROM customer_address a
        LEFT JOIN customer c ON c.id = a.customer_id
        WHERE a.deleted_at IS NULL AND (c.id IS NULL OR c.deleted_at IS NOT NULL)""",
    # Soft-deleting a customer or a group leaves its pivot rows as they are (SPEC §1.7: reads
    # filter them; a restore brings the memberships back), so only a missing row is a violation.
    "membership of a missing customer": """
        SELECT p.id AS membership_id, p.customer_id FROM customer_group_customer p
        LEFT JOIN customer c ON c.id = p.customer_id
        WHERE p.deleted_at IS NULL AND c.id IS NULL""",
    "membership of a missing group": """
        SELECT p.id AS membership_id, p.customer_group_id FROM customer_group_customer p
        LEFT JOIN customer_group g ON g.id = p.customer_group_id
        WHERE p.deleted_at IS NULL AND g.id IS NULL""",
    "more than one default billing address": """
        SELECT customer_id, count(*) AS n FROM customer_address
        WHERE deleted_at IS NULL AND is_default_billing GROUP BY customer_id HAVING count(*) > 1""",
    "more than one default shipping address": """
        SELECT customer_id, count(*) AS n FROM customer_address
        WHERE deleted_at IS NULL AND is_default_shipping GROUP BY customer_id HAVING count(*) > 1""",
    "duplicate live email": """
        SELECT lower(email) AS email, has_account, count(*) AS n FROM customer
        WHERE deleted_at IS NULL AND email IS NOT NULL
        GROUP BY lower(email), has_account HAVING count(*) > 1""",
    "duplicate live membership": """
        SELECT customer_id, customer_group_id, count(*) AS n FROM customer_group_customer
        WHERE deleted_at IS NULL GROUP BY customer_id, customer_group_id HAVING count(*) > 1""",
    **DELIVERY_RULES,
}


async def check_invariants(
    sessions: async_sessionmaker[AsyncSession], run_outcome: RunOutcome | None = None
) -> list[Violation]:
    """Every violation found (an empty list means the database is consistent)."""
    violations: list[Violation] = []
    async with sessions() as session:
        for rule, sql in _SQL_RULES.items():
            for row in (await session.execute(text(sql))).mappings():
                violations.append(Violation(rule, dict(row)))
        # A compensated create must have left none of its rows behind.
        for operation_id, record in await oplog.compensated_creates(session):
            for entity, ids in record.created().items():
                tbl = SPECS[entity].table
                left = await session.execute(select(tbl.c.id).where(tbl.c.id.in_(ids)))
                for (row_id,) in left.all():
                    violations.append(
                        Violation(
                            "row left by a compensated run",
                            {"operation_id": operation_id, "table": tbl.name, "id": row_id},
                        )
                    )
        if run_outcome is not None:
            groups = await session.execute(
                text(
                    "SELECT event_group_id, status, count(*) FROM event_outbox "
                    "WHERE event_group_id IS NOT NULL GROUP BY event_group_id, status"
                )
            )
            for group, status, count in groups.all():
                outcome = await run_outcome(group)
                if outcome is None:
                    continue
                if status == "released" and outcome not in _FINISHED_ITS_PART:
                    violations.append(
                        Violation(
                            "events released for a run that did not complete",
                            {"event_group_id": group, "run": outcome, "events": count},
                        )
                    )
                if status == "staged" and outcome != "running":
                    violations.append(
                        Violation(
                            "events still staged for a run that has ended",
                            {"event_group_id": group, "run": outcome, "events": count},
                        )
                    )
    return violations
