"""The invariant checker finds each kind of inconsistency (planted with raw SQL) and nothing in a
consistent database."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from customer_service import CustomerModuleService
from customer_service.invariants import check_invariants


async def _sql(engine: AsyncEngine, *statements: str) -> None:
    async with engine.begin() as conn:
        for statement in statements:
            await conn.execute(text(statement))


async def test_consistent_database_has_no_violations(service: CustomerModuleService) -> None:
    customer = await service.create_customers(
        {"email": "a@example.com", "addresses": [{"city": "Rome", "is_default_billing": True}]}
    )
    group = await service.create_customer_groups({"name": "VIP"})
    await service.add_customer_to_group({"customer_id": customer.id, "customer_group_id": group.id})
    assert await check_invariants(service.sessions) == []


async def test_each_planted_inconsistency_is_reported(
    service: CustomerModuleService, engine: AsyncEngine
) -> None:
    # The indexes forbid most of these states, so drop them for the plant (restored below).
    await _sql(
        engine,
        'DROP INDEX "IDX_customer_email_has_account_unique"',
        'DROP INDEX "IDX_customer_address_unique_customer_billing"',
        'DROP INDEX "IDX_customer_group_customer_pair_unique"',
    )
    try:
        await _sql(
            engine,
            "INSERT INTO customer (id, email) VALUES ('cus_1', 'X@e.com'), ('cus_2', 'x@e.com')",
            "INSERT INTO customer (id, email, deleted_at) VALUES ('cus_gone', 'g@e.com', now())",
            "INSERT INTO customer_address (id, customer_id, is_default_billing) VALUES "
            "('cuaddr_1', 'cus_1', true), ('cuaddr_2', 'cus_1', true), ('cuaddr_3', 'cus_gone', false)",
            "INSERT INTO customer_group (id, name, deleted_at) VALUES ('cusgroup_1', 'G', now())",
            "INSERT INTO customer_group (id, name) VALUES ('cusgroup_2', 'H')",
            # Memberships of a soft-deleted customer or group are legitimate (SPEC §1.7); a
            # pivot row naming a missing one needs the foreign keys off to plant.
            "SET LOCAL session_replication_role = replica",
            "INSERT INTO customer_group_customer (id, customer_id, customer_group_id) VALUES "
            "('cusgc_1', 'cus_1', 'cusgroup_none'), ('cusgc_2', 'cus_2', 'cusgroup_2'), "
            "('cusgc_3', 'cus_2', 'cusgroup_2'), ('cusgc_4', 'cus_none', 'cusgroup_2'), "
            "('cusgc_5', 'cus_gone', 'cusgroup_1')",
            "INSERT INTO operation_log (operation_id, name, state, result) VALUES "
            "('op_1', 'create customers', 'compensated', '{\"kind\": \"create customers\", "
            '"ids": ["cus_2"], "address_ids": [], "all_ids": ["cus_2"]}\'), '
            "('op_2', 'create customers', 'done', '{\"kind\": \"create customers\", "
            '"ids": ["cus_1"], "address_ids": [], "all_ids": ["cus_1"]}\')',
            "INSERT INTO event_outbox (name, data, status, event_group_id) VALUES "
            "('customer.created', '{\"id\": \"cus_1\"}', 'released', 'wf-failed:run'), "
            "('customer.created', '{\"id\": \"cus_2\"}', 'staged', 'wf-done:run')",
        )

        async def outcome(group: str) -> str | None:
            return {"wf-failed:run": "failed", "wf-done:run": "completed"}.get(group)

        found = await check_invariants(service.sessions, outcome)
        rules = sorted(v.rule for v in found)
        assert rules == sorted(
            [
                "address of a missing or deleted customer",
                "membership of a missing customer",
                "membership of a missing group",
                "more than one default billing address",
                "duplicate live email",
                "duplicate live membership",
                "row left by a compensated run",
                "events released for a run that did not complete",
                "events still staged for a run that has ended",
            ]
        ), found
    finally:
        await _sql(
            engine,
            "TRUNCATE customer_group_customer, customer_address, customer_group, customer, "
            "event_outbox, operation_log CASCADE",  # (the deliveries of the outbox's events)
            'CREATE UNIQUE INDEX "IDX_customer_email_has_account_unique" '
            "ON customer (lower(email), has_account) WHERE deleted_at IS NULL",
            'CREATE UNIQUE INDEX "IDX_customer_address_unique_customer_billing" '
            "ON customer_address (customer_id) WHERE is_default_billing = true",
            'CREATE UNIQUE INDEX "IDX_customer_group_customer_pair_unique" '
            "ON customer_group_customer (customer_id, customer_group_id) WHERE deleted_at IS NULL",
        )
