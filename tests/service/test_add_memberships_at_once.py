"""A workflow's add of memberships is one statement (`service.add_at_once`): it must write what
the general path writes, and answer a repeat, a fenced operation, an unknown id and a pair added
meanwhile by another run as the general path does."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from customer_service import ConflictError, CustomerModuleService, NotFoundError
from customer_service.service import memberships
from tests import helpers
from tests.helpers import TABLES, Seed, Statements, fetch, fingerprint, unchanged_after

S = CustomerModuleService


async def written(engine: AsyncEngine) -> dict[str, list[dict[str, Any]]]:
    """The memberships, the outbox and the log (see `tests.helpers.written`), the log's
    transaction ids left out."""
    out = await helpers.written(
        engine,
        {
            "customer_group_customer": "customer_id, customer_group_id",
            "event_outbox": "id",
            "operation_log": "operation_id",
        },
    )
    for row in out["operation_log"]:
        row["result"].pop("xid", None)
    return out


def ctx(name: str, release: bool = True) -> dict[str, Any]:
    return {"operation_id": f"op_{name}", "event_group_id": f"wf-{name}:run", "release": release}


@pytest.mark.parametrize("minted", [False, True], ids=["ids-minted-here", "ids-given"])
@pytest.mark.parametrize("release", [False, True])
async def test_the_one_statement_writes_what_the_general_path_writes(
    service: S, engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch, release: bool, minted: bool
) -> None:
    """`minted`: each item carries an id minted for it, as a workflow's link step sends them."""
    out = []
    for general in (False, True):
        async with engine.begin() as conn:
            await conn.execute(text(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE"))
        ann, bob, group = "cus_ann", "cus_bob", "cusgroup_vip"
        await service.create_customers([{"id": ann}, {"id": bob}])
        await service.create_customer_groups({"id": group, "name": "VIP"})
        await service.add_customer_to_group(
            {"customer_id": ann, "customer_group_id": group, "id": "cusgc_ann"}
        )
        add: list[dict[str, Any]] = [  # a new member, the existing one, the new one again
            {"customer_id": bob, "customer_group_id": group},
            {"customer_id": ann, "customer_group_id": group},
            {"customer_id": bob, "customer_group_id": group},
        ]
        if minted:
            add = [item | {"id": f"cusgc_w{i}"} for i, item in enumerate(add)]
        with monkeypatch.context() as patch:
            if general:
                patch.setattr(memberships, "add_at_once", _declined)
            with Statements(engine) as sent:
                change = await service.change_memberships(add=add, ctx=ctx("once", release))
        [added_id] = change.added_ids
        assert added_id == "cusgc_w0" if minted else added_id.startswith("cusgc_")
        assert change.membership_ids == [added_id, "cusgc_ann", added_id]
        assert change.added == [(bob, group)]
        rows = json.dumps(await written(engine), sort_keys=True)
        out.append((len(sent.sql), json.loads(rows.replace(added_id, "added"))))
    (fast_sent, fast_rows), (general_sent, general_rows) = out
    assert fast_sent == 1 < general_sent
    assert fast_rows == general_rows


async def _declined(*_: Any) -> None:
    return None  # as the one statement answers when it wrote nothing


async def test_a_repeat_or_a_fenced_operation_writes_nothing(
    service: S, world: Seed, engine: AsyncEngine
) -> None:
    pair = {"customer_id": world["bob"].id, "customer_group_id": world["group"].id}
    first = await service.change_memberships(add=[pair], ctx=ctx("twice"))
    before = await fingerprint(engine)
    assert await service.change_memberships(add=[pair], ctx=ctx("twice")) == first
    assert await fingerprint(engine) == before

    assert await service.undo_change_memberships("op_fenced") is False  # the step never ran
    error = await unchanged_after(
        engine, lambda: service.change_memberships(add=[pair], ctx=ctx("fenced")), ConflictError
    )
    assert isinstance(error, ConflictError) and error.field == "operation_id"


async def test_an_unknown_customer_is_not_found_and_writes_nothing(
    service: S, world: Seed, engine: AsyncEngine
) -> None:
    pair = {"customer_id": "cus_nope", "customer_group_id": world["group"].id}
    error = await unchanged_after(
        engine, lambda: service.change_memberships(add=[pair], ctx=ctx("nope")), NotFoundError
    )
    assert error.field == "customer_id"


async def test_a_pair_added_while_waiting_for_its_lock_is_answered_as_a_member(
    service: S, world: Seed, engine: AsyncEngine
) -> None:
    """Another run holds the pair's lock and adds it; these runs' statements wait for the lock
    with a snapshot taken before that commit, which does not show its row: their insert finds
    the pair taken and answers that row's id (`ON CONFLICT ... DO UPDATE`)."""
    customer, group = world["bob"].id, world["group"].id
    pair = {"customer_id": customer, "customer_group_id": group}
    async with engine.connect() as other:
        await other.execute(
            text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"),
            {"key": f"membership {customer}/{group}"},
        )
        await other.execute(
            text(
                "INSERT INTO customer_group_customer (id, customer_id, customer_group_id)"
                " VALUES ('cusgc_other', :c, :g)"
            ),
            {"c": customer, "g": group},
        )
        waiting = [
            asyncio.create_task(service.change_memberships(add=[pair], ctx=ctx(f"wait{i}")))
            for i in range(3)
        ]
        await asyncio.sleep(0.5)
        assert not any(t.done() for t in waiting)  # each waits for the lock
        await other.commit()
    changes = await asyncio.gather(*waiting)
    assert [(c.membership_ids, c.added_ids) for c in changes] == [(["cusgc_other"], [])] * 3
    rows = await fetch(
        engine, "SELECT id FROM customer_group_customer WHERE customer_id = :c", c=customer
    )
    assert rows == [{"id": "cusgc_other"}]


async def test_runs_adding_one_pair_at_once_answer_the_one_membership(
    service: S, world: Seed, engine: AsyncEngine
) -> None:
    pair = {"customer_id": world["bob"].id, "customer_group_id": world["group"].id}
    changes = await asyncio.gather(
        *(service.change_memberships(add=[pair], ctx=ctx(f"race{i}")) for i in range(6))
    )
    assert len({c.membership_ids[0] for c in changes}) == 1
    assert sum(len(c.added_ids) for c in changes) == 1
    # the runs after it asked for the pair too: undoing the one that added it conflicts
    adder = next(i for i, c in enumerate(changes) if c.added_ids)
    with pytest.raises(ConflictError):
        await service.undo_change_memberships(f"op_race{adder}")
