"""Concurrent calls through the service (its engine has a pool, so these really run in parallel
transactions): unique rules hold and losers get the domain error, never a raw one."""

from __future__ import annotations

import asyncio

from sqlalchemy.ext.asyncio import AsyncEngine

from customer_service import AlreadyExistsError, CustomerModuleService
from tests.helpers import Seed, counts, fetch, scalar

EMAILS = [
    "race@example.com",
    "RACE@example.com",
    "Race@Example.com",
    "race@EXAMPLE.com",
    "rAce@example.com",
    "raCe@example.COM",
    "RACE@EXAMPLE.COM",
    "race@Example.Com",
]


async def test_eight_creates_of_one_email_leave_one_customer(
    service: CustomerModuleService, engine: AsyncEngine
) -> None:
    results = await asyncio.gather(
        *(service.create_customers({"email": e}) for e in EMAILS), return_exceptions=True
    )
    winners = [r for r in results if not isinstance(r, BaseException)]
    losers = [r for r in results if isinstance(r, BaseException)]
    assert len(winners) == 1
    assert len(losers) == 7
    for email, err in zip(EMAILS, results, strict=True):
        if not isinstance(err, BaseException):
            continue
        assert isinstance(err, AlreadyExistsError), repr(err)
        assert err.type == "invalid_data"
        assert err.field == "email"
        # decision 12: each loser reads the email as it typed it
        assert err.message == f"Customer with email: {email}, has_account: false, already exists."
    rows = await fetch(engine, "SELECT id, email FROM customer")
    assert rows == [{"id": winners[0].id, "email": winners[0].email}]
    # the losers' transactions rolled back whole: one created event only
    assert (
        await scalar(
            engine, "SELECT count(*) FROM event_outbox WHERE name = 'customer.customer.created'"
        )
        == 1
    )


async def test_guest_and_registered_race_independently(
    service: CustomerModuleService, engine: AsyncEngine
) -> None:
    calls = [
        service.create_customers({"email": e, "has_account": i % 2 == 0})
        for i, e in enumerate(EMAILS)
    ]
    results = await asyncio.gather(*calls, return_exceptions=True)
    assert sum(not isinstance(r, BaseException) for r in results) == 2
    assert all(isinstance(r, AlreadyExistsError) for r in results if isinstance(r, BaseException))
    rows = await fetch(engine, "SELECT has_account FROM customer ORDER BY has_account")
    assert rows == [{"has_account": False}, {"has_account": True}]


async def test_two_concurrent_set_default_leave_exactly_one_default(
    service: CustomerModuleService, engine: AsyncEngine
) -> None:
    customer = await service.create_customers(
        {"email": "d@example.com", "addresses": [{"city": "A"}, {"city": "B"}, {"city": "C"}]}
    )
    addresses = [a.id for a in customer.addresses or []]
    for round_ in range(10):
        first, second = addresses[round_ % 3], addresses[(round_ + 1) % 3]
        await asyncio.gather(
            service.set_default_address(first, "is_default_shipping"),
            service.set_default_address(second, "is_default_shipping"),
        )
        defaults = await fetch(
            engine,
            "SELECT id FROM customer_address WHERE customer_id = :c AND is_default_shipping",
            c=customer.id,
        )
        assert len(defaults) == 1, f"round {round_}: {defaults}"
        assert defaults[0]["id"] in (first, second)
    billing = await scalar(engine, "SELECT count(*) FROM customer_address WHERE is_default_billing")
    assert billing == 0  # the other flag is untouched


async def test_concurrent_adds_of_one_pair_make_one_membership(
    service: CustomerModuleService, world: Seed, engine: AsyncEngine
) -> None:
    pair = {"customer_id": world["bob"].id, "customer_group_id": world["group"].id}
    results = await asyncio.gather(*(service.add_customer_to_group(pair) for _ in range(8)))
    assert len({r["id"] for r in results}) == 1
    rows = await fetch(
        engine,
        "SELECT id FROM customer_group_customer WHERE customer_id = :c",
        c=pair["customer_id"],
    )
    assert rows == [{"id": results[0]["id"]}]


async def test_concurrent_groups_of_one_name_make_one_group(
    service: CustomerModuleService, engine: AsyncEngine
) -> None:
    results = await asyncio.gather(
        *(service.create_customer_groups({"name": "Same"}) for _ in range(8)),
        return_exceptions=True,
    )
    errors = [r for r in results if isinstance(r, BaseException)]
    assert len(errors) == 7
    assert all(isinstance(e, AlreadyExistsError) and e.field == "name" for e in errors), errors
    assert (await counts(engine))["customer_group"] == 1


async def test_overlapping_attempts_of_one_operation_have_one_effect(
    service: CustomerModuleService, engine: AsyncEngine
) -> None:
    """A retried activity may overlap its earlier attempt: same ids, same operation id. Every
    attempt must return the one result, none may fail with a business error."""
    ctx = {"operation_id": "op-overlap", "event_group_id": "run-overlap"}
    data = [
        {"id": "cus_overlap_1", "email": "o1@example.com"},
        {"id": "cus_overlap_2", "email": "o2@example.com", "addresses": [{"id": "ad_o"}]},
    ]
    results = await asyncio.gather(*(service.create_customers(data, ctx) for _ in range(6)))
    assert all([c.id for c in r] == ["cus_overlap_1", "cus_overlap_2"] for r in results)
    assert (await counts(engine))["customer"] == 2
    assert (await counts(engine))["customer_address"] == 1
    staged = await service.list_events(event_group_id="run-overlap", name="customer.created")
    assert len(staged) == 2

    target = {"operation_id": "op-overlap-update"}
    outcomes = await asyncio.gather(
        *(
            service.update_customers_tracked("cus_overlap_1", {"metadata": {"n": 1}}, target)
            for _ in range(6)
        )
    )
    assert all(o.previous == outcomes[0].previous for o in outcomes)
    assert outcomes[0].previous == [{"id": "cus_overlap_1", "metadata": None}]
    updated = await service.list_events(name="customer.customer.updated")
    assert len(updated) == 1
