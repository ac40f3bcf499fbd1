"""How many statements a workflow's write step sends (round trips, with BEGIN and COMMIT for
all but the create). Each is a round trip and its share of CPU in the worker; the counts here
are what docs/performance.md reports, and a change that adds one fails here first."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from customer_service import CustomerModuleService
from tests.helpers import Seed, Statements


def step(name: str) -> dict[str, Any]:
    """A workflow's pivot: an operation id, the run's event group, the release."""
    return {"operation_id": f"op_{name}", "event_group_id": f"wf-{name}:run", "release": True}


@pytest.mark.parametrize(
    ("write", "statements"),
    [
        ("create", 1),  # all of it (service.create_at_once), in autocommit
        ("update", 1),  # all of it (service.update_at_once), in autocommit
        ("update metadata", 4),  # claim; lock and read; write (merged metadata); record
        ("link", 1),  # all of it (service.add_at_once), in autocommit
    ],
)
async def test_a_workflow_write_sends_this_many_statements(
    service: CustomerModuleService, world: Seed, engine: AsyncEngine, write: str, statements: int
) -> None:
    ann = world["ann"].id
    calls = {
        "create": lambda: service.create_customers(
            [{"email": "new@example.com", "addresses": [{"city": "Rome"}]}], step("c")
        ),
        "update": lambda: service.update_customers_tracked(ann, {"first_name": "A"}, step("u")),
        "update metadata": lambda: service.update_customers_tracked(
            ann, {"metadata": {"k": 1}}, step("m")
        ),
        "link": lambda: service.change_memberships(
            add=[{"customer_id": world["bob"].id, "customer_group_id": world["group"].id}],
            ctx=step("l"),
        ),
    }
    with Statements(engine) as sent:
        await calls[write]()
    assert len(sent.sql) == statements, "\n\n".join(sent.sql)
