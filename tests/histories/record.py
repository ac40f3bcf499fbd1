"""Record fresh workflow histories for the replay tests (tests/workflows/test_replay.py).

Runs every workflow once against real servers — an embedded PostgreSQL and a Temporal dev server
started in a temporary folder and removed afterwards — and writes each run's history as
`tests/histories/<name>.json` (workflow id `history-<name>`). Each scenario starts from fresh
seed data. Until the first release, re-record after any change to a workflow's commands; from
then on, a released version's files move to `tests/histories/<release>/` first, so they keep
replaying (docs/versioning.md).

    .venv/bin/python -m tests.histories.record
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sqlalchemy import text  # noqa: E402
from temporalio.client import WorkflowFailureError  # noqa: E402

from activities.customer_activities import CustomerActivities  # noqa: E402
from customer_service import CustomerModuleService, create_engine, session_factory  # noqa: E402
from customer_service.migrate import upgrade_to_head  # noqa: E402
from devstack import ephemeral  # noqa: E402
from settings import Settings  # noqa: E402
from tests.helpers import TABLES, World, seed  # noqa: E402
from worker import build_worker  # noqa: E402
from workflows import (  # noqa: E402
    CreateCustomerAccountWorkflow,
    CreateCustomerAddressesWorkflow,
    CreateCustomerGroupsWorkflow,
    CreateCustomersWorkflow,
    DeleteCustomerAddressesWorkflow,
    DeleteCustomerGroupsWorkflow,
    DeleteCustomersWorkflow,
    LinkCustomerGroupsToCustomerWorkflow,
    LinkCustomersToCustomerGroupWorkflow,
    RemoveCustomerAccountWorkflow,
    UpdateCustomerAddressesWorkflow,
    UpdateCustomerGroupsWorkflow,
    UpdateCustomersWorkflow,
)
from workflows import contracts as wm  # noqa: E402

# name → (workflow, input from the seed data, whether the run is expected to fail)
Scenario = tuple[Any, Callable[[World], Any], bool]

SCENARIOS: dict[str, Scenario] = {
    "create_customers": (
        CreateCustomersWorkflow.run,
        lambda w: wm.CreateCustomersInput.model_validate({"customers_data": [
            {"email": "peter.hayes@example.com", "first_name": "Peter",
             "addresses": [{"city": "Berlin", "country_code": "de", "is_default_billing": True}]},
            {"email": "mia.lang@example.com"},
        ]}),
        False,
    ),
    "update_customers": (
        UpdateCustomersWorkflow.run,
        lambda w: wm.UpdateCustomersInput(
            selector={"id": w.guest}, update={"first_name": "Ana Maria", "metadata": {"v": 1}}
        ),
        False,
    ),
    "delete_customers": (
        DeleteCustomersWorkflow.run,
        lambda w: wm.DeleteCustomersInput(ids=[w.guest]),
        False,
    ),
    "create_customer_account": (
        CreateCustomerAccountWorkflow.run,
        lambda w: wm.CreateCustomerAccountInput.model_validate(
            {"auth_identity_id": "authid_new", "customer_data": {"email": "new.member@example.com"}}
        ),
        False,
    ),
    "remove_customer_account": (
        RemoveCustomerAccountWorkflow.run,
        lambda w: wm.RemoveCustomerAccountInput(customer_id=w.registered),
        False,
    ),
    "create_customer_addresses": (
        CreateCustomerAddressesWorkflow.run,
        lambda w: wm.CreateCustomerAddressesInput.model_validate({"addresses": [
            {"customer_id": w.guest, "city": "Braga", "is_default_shipping": True,
             "is_default_billing": True},
        ]}),
        False,
    ),
    "update_customer_addresses": (
        UpdateCustomerAddressesWorkflow.run,
        lambda w: wm.UpdateCustomerAddressesInput(
            selector={"id": w.other_address}, update={"is_default_shipping": True, "city": "Coimbra"}
        ),
        False,
    ),
    "delete_customer_addresses": (
        DeleteCustomerAddressesWorkflow.run,
        lambda w: wm.DeleteCustomerAddressesInput(ids=[w.other_address]),
        False,
    ),
    "create_customer_groups": (
        CreateCustomerGroupsWorkflow.run,
        lambda w: wm.CreateCustomerGroupsInput.model_validate({"groups": [{"name": "Newsletter"}]}),
        False,
    ),
    "update_customer_groups": (
        UpdateCustomerGroupsWorkflow.run,
        lambda w: wm.UpdateCustomerGroupsInput(selector={"id": w.group}, update={"name": "VIP+"}),
        False,
    ),
    "delete_customer_groups": (
        DeleteCustomerGroupsWorkflow.run,
        lambda w: wm.DeleteCustomerGroupsInput(ids=[w.group]),
        False,
    ),
    "link_customers_to_customer_group": (
        LinkCustomersToCustomerGroupWorkflow.run,
        lambda w: wm.LinkInput(id=w.group, add=[w.registered], remove=[w.guest]),
        False,
    ),
    "link_customer_groups_to_customer": (
        LinkCustomerGroupsToCustomerWorkflow.run,
        lambda w: wm.LinkInput(id=w.guest, add=[w.empty_group], remove=[w.group]),
        False,
    ),
    # A compensated run: both flag steps commit, then two default addresses for one customer
    # fail the create (SPEC §4.3), and the flags are given back in reverse order.
    "create_customer_addresses_compensated": (
        CreateCustomerAddressesWorkflow.run,
        lambda w: wm.CreateCustomerAddressesInput.model_validate({"addresses": [
            {"customer_id": w.guest, "city": "Braga", "is_default_shipping": True},
            {"customer_id": w.guest, "city": "Viseu", "is_default_shipping": True},
        ]}),
        True,
    ),
}  # fmt: skip


@contextlib.contextmanager
def servers() -> Iterator[tuple[str, str]]:
    with ephemeral.postgres() as postgres, ephemeral.temporal() as temporal:
        yield postgres.url, temporal.address


async def record(database_url: str, temporal_address: str, only: set[str]) -> None:
    upgrade_to_head(database_url)
    engine = create_engine(database_url)
    service = CustomerModuleService(session_factory(engine))
    # Payloads in clear (no PII key), so the replay test reads them with the plain converter.
    plain = Settings(pii_keys=None, pii_key_file=None, pii_active_key=None)
    client = await ephemeral.connect_when_ready(temporal_address, plain)
    task_queue = f"record-{uuid.uuid4().hex[:8]}"
    async with build_worker(client, CustomerActivities(service), Settings(), task_queue):
        for name, (workflow, make_input, fails) in SCENARIOS.items():
            if only and name not in only:
                continue
            async with engine.begin() as conn:
                await conn.execute(text(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE"))
            world = await seed(service)
            handle = await client.start_workflow(
                workflow, make_input(world), id=f"history-{name}", task_queue=task_queue
            )
            try:
                await handle.result()
                assert not fails, f"{name}: expected the run to fail"
            except WorkflowFailureError:
                if not fails:
                    raise
            history = await handle.fetch_history()
            (HERE / f"{name}.json").write_text(history.to_json() + "\n")
            print(f"recorded {name}: {len(history.events)} events")
    await engine.dispose()


def main(argv: list[str]) -> None:
    only = set(argv)
    unknown = only - set(SCENARIOS)
    if unknown:
        raise SystemExit(f"unknown scenarios: {', '.join(sorted(unknown))}")
    with servers() as (database_url, temporal_address):
        asyncio.run(record(database_url, temporal_address, only))


if __name__ == "__main__":
    main(sys.argv[1:])
