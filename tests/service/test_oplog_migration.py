"""Migration 0002 turns the operation log's old rows (name suffixes, records read by key) into
typed records with a `state`, and its downgrade gives the old rows back. Run on a scratch
database of the session's server, migrated step by step."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, pool, text

from customer_service import oplog
from customer_service.migrate import MIGRATIONS
from tests.helpers import scratch_database

ROW = {"id": "cuaddr_1", "customer_id": "cus_1", "city": "Rome", "is_default_billing": True}
UPDATE = {
    "ids": ["cus_1"],
    "previous": [{"id": "cus_1", "first_name": "A"}],
    "written": [{"id": "cus_1", "first_name": "B"}],
    "rows": [{"id": "cus_1", "first_name": "B"}],
}
CHANGE = {
    "added": [["cus_1", "cusgroup_1"]],
    "removed": [],
    "membership_ids": ["cusgc_1"],
    "added_ids": ["cusgc_1"],
    "removed_rows": [],
    "requested": ["cus_1/cusgroup_1"],
    "xid": 7,
}
# operation_id → (name, result) as the old writer left them
OLD: dict[str, tuple[str, Any]] = {
    "op_cc": (
        "create customers (compensated)",
        {"ids": ["cus_1"], "address_ids": ["cuaddr_1"], "all_ids": ["cus_1"]},
    ),
    "op_ca": ("create customer addresses", {"ids": ["cuaddr_1"], "all_ids": ["cuaddr_1"]}),
    "op_cg": ("create customer groups (cancelled)", {}),
    "op_uc": ("update Customer", UPDATE),
    "op_ua": ("update CustomerAddress (compensated)", UPDATE),
    "op_ug": ("update CustomerGroup (cancelled)", {}),
    "op_sd": (
        "soft delete customers",
        {"customer_id": ["cus_1"], "customer_address_id": ["cuaddr_1"]},
    ),
    "op_sd0": ("soft delete customers", {}),
    "op_sg": ("soft delete customer groups", {"customer_group_id": ["cusgroup_1"]}),
    "op_un": ("unset is_default_billing", ["cuaddr_1"]),
    "op_un0": ("unset is_default_shipping (cancelled)", {}),
    "op_da": ("delete customer addresses", [ROW]),
    "op_cm": ("change memberships", CHANGE),
    "op_au": (
        "set auth identity (compensated)",
        {"customer_id": "cus_1", "previous": None, "written": "auth_1"},
    ),
}


@pytest.fixture
def scratch(database_url: str) -> Iterator[tuple[Config, Engine]]:
    with scratch_database(database_url, "oplog_migration") as target:
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        config.set_main_option("sqlalchemy.url", target.replace("%", "%%"))
        engine = create_engine(target, poolclass=pool.NullPool)
        try:
            yield config, engine
        finally:
            engine.dispose()


def _log(engine: Engine) -> dict[str, dict[str, Any]]:
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT * FROM operation_log ORDER BY operation_id"))
        return {r.operation_id: dict(r._mapping) for r in rows}


def test_0002_moves_suffixes_to_state_and_types_every_record(
    scratch: tuple[Config, Engine],
) -> None:
    config, engine = scratch
    command.upgrade(config, "0001")
    with engine.begin() as conn:
        for operation_id, (name, result) in OLD.items():
            conn.execute(
                text("INSERT INTO operation_log (operation_id, name, result) VALUES (:o, :n, :r)"),
                {"o": operation_id, "n": name, "r": json.dumps(result)},
            )
    command.upgrade(config, "0002")
    log = _log(engine)
    states = {op: row["state"] for op, row in log.items()}
    assert states == {
        **dict.fromkeys(OLD, "done"),
        **dict.fromkeys(("op_cc", "op_ua", "op_au"), "compensated"),
        **dict.fromkeys(("op_cg", "op_ug", "op_un0"), "cancelled"),
    }
    records = {
        op: oplog.parse(row["result"]) for op, row in log.items() if row["state"] != "cancelled"
    }
    assert all(log[op]["name"] == record.kind for op, record in records.items())
    assert {op: log[op]["name"] for op in ("op_cg", "op_ug", "op_un0")} == {
        "op_cg": "create customer groups",
        "op_ug": "update",
        "op_un0": "unset default addresses",
    }
    assert records["op_cc"] == oplog.CreateCustomersRecord(
        ids=["cus_1"], address_ids=["cuaddr_1"], all_ids=["cus_1"]
    )
    assert records["op_uc"] == oplog.UpdateRecord(entity="customer", **UPDATE)
    assert records["op_ua"] == oplog.UpdateRecord(entity="address", **UPDATE)
    assert records["op_sd"] == oplog.SoftDeleteCustomersRecord(
        customer_ids=["cus_1"], address_ids=["cuaddr_1"]
    )
    assert records["op_sd0"] == oplog.SoftDeleteCustomersRecord(customer_ids=[], address_ids=[])
    assert records["op_sg"] == oplog.SoftDeleteGroupsRecord(group_ids=["cusgroup_1"])
    assert records["op_un"] == oplog.UnsetDefaultRecord(
        flag="is_default_billing", address_ids=["cuaddr_1"]
    )
    assert records["op_da"] == oplog.DeleteAddressesRecord(rows=[ROW])
    assert records["op_cm"] == oplog.ChangeMembershipsRecord.model_validate(CHANGE)
    assert records["op_au"] == oplog.SetAuthIdentityRecord(
        customer_id="cus_1", previous=None, written="auth_1"
    )

    command.downgrade(config, "0001")
    back = _log(engine)
    assert {op: (row["name"], row["result"]) for op, row in back.items()} == OLD
