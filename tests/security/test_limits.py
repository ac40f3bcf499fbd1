"""Limits on hostile input at the Customer Module: empty update selectors, selectors matching too
many rows, filters too large, patterns too long, statements running too long (docs/security.md).
Each refusal is a typed `invalid_data` naming the field, and changes nothing."""

from __future__ import annotations

import pytest
from pydantic import ValidationError
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from customer_service import CustomerModuleService, create_engine, session_factory
from customer_service.db import transaction
from customer_service.errors import InvalidDataError, QueryTimeoutError
from customer_service.filters import MAX_FILTER_CONDITIONS, MAX_PATTERN_LENGTH
from customer_service.schemas import MAX_SELECTED_ROWS
from tests.helpers import unchanged_after
from workflows.contracts import UpdateCustomerGroupsInput, UpdateCustomersInput


async def test_empty_update_selector_is_refused(
    service: CustomerModuleService, engine: AsyncEngine
) -> None:
    await service.create_customers([{"email": "a@example.com"}, {"email": "b@example.com"}])
    error = await unchanged_after(
        engine, lambda: service.update_customers({}, {"first_name": "Everyone"}), InvalidDataError
    )
    assert isinstance(error, InvalidDataError) and error.field == "selector"
    for model in (UpdateCustomersInput, UpdateCustomerGroupsInput):
        with pytest.raises(ValidationError, match="selector"):
            model.model_validate({"selector": {}, "update": {"name": "x"}})


async def test_selector_matching_too_many_rows_is_refused(
    service: CustomerModuleService, engine: AsyncEngine
) -> None:
    rows = [{"email": f"c{i}@example.com", "last_name": "bulk"} for i in range(MAX_SELECTED_ROWS)]
    await service.create_customers(rows)
    updated = await service.update_customers({"last_name": "bulk"}, {"first_name": "ok"})
    assert len(updated) == MAX_SELECTED_ROWS  # exactly the cap is allowed
    await service.create_customers([{"email": "one-more@example.com", "last_name": "bulk"}])
    error = await unchanged_after(
        engine,
        lambda: service.update_customers({"last_name": "bulk"}, {"first_name": "no"}),
        InvalidDataError,
    )
    assert isinstance(error, InvalidDataError) and error.field == "selector"
    assert str(MAX_SELECTED_ROWS) in error.message


@pytest.mark.parametrize(
    ("filters", "field"),
    [
        (
            {"$or": [{"email": f"x{i}@example.com"} for i in range(MAX_FILTER_CONDITIONS)]},
            "filters",
        ),
        ({"first_name": {"$re": "(a|aa)*" * 40}}, "filters.first_name.$re"),
        ({"email": {"$like": "%" + "_%" * MAX_PATTERN_LENGTH}}, "filters.email.$like"),
        ({"email": {"$ilike": "%" * (MAX_PATTERN_LENGTH + 1)}}, "filters.email.$ilike"),
    ],
)
async def test_oversized_filters_are_refused(
    service: CustomerModuleService, filters: dict[str, object], field: str
) -> None:
    with pytest.raises(InvalidDataError) as info:
        await service.list_customers(filters)
    assert info.value.field == field


async def test_a_statement_over_the_timeout_is_a_typed_final_error(database_url: str) -> None:
    engine = create_engine(database_url, pool_size=1, statement_timeout_ms=100)
    try:
        with pytest.raises(QueryTimeoutError) as info:
            async with transaction(session_factory(engine)) as session:
                await session.execute(text("SELECT pg_sleep(2)"))
        assert info.value.type == "invalid_data"
        assert info.value.__cause__ is None
    finally:
        await engine.dispose()


async def test_engines_carry_statement_and_lock_timeouts(database_url: str) -> None:
    engine = create_engine(database_url, pool_size=1)
    try:
        async with engine.connect() as conn:
            statement = (await conn.execute(text("SHOW statement_timeout"))).scalar()
            lock = (await conn.execute(text("SHOW lock_timeout"))).scalar()
        assert (statement, lock) == ("20s", "10s")
    finally:
        await engine.dispose()


async def test_delete_by_a_selector_matching_too_many_rows_is_refused(
    service: CustomerModuleService, engine: AsyncEngine
) -> None:
    rows = [{"email": f"d{i}@example.com", "last_name": "wide"} for i in range(MAX_SELECTED_ROWS)]
    await service.create_customers([*rows, {"email": "extra@example.com", "last_name": "wide"}])
    error = await unchanged_after(
        engine, lambda: service.delete_customers({"last_name": "wide"}), InvalidDataError
    )
    assert isinstance(error, InvalidDataError) and error.field == "selector"
    await service.delete_customers({"email": "extra@example.com"})
    await service.delete_customers({"last_name": "wide"})  # exactly the cap is allowed
    assert await service.list_customers({"last_name": "wide"}) == []


@pytest.mark.parametrize("release", [False, True])
async def test_a_result_over_the_cap_rolls_its_step_back_before_the_commit(
    service: CustomerModuleService, engine: AsyncEngine, release: bool
) -> None:
    """The run's pivot (`release`) included: the step fails typed inside its transaction, so no
    row, no operation record and no released event remain (nothing fails after a commit)."""
    [one] = await service.create_customers([{"email": "cap@example.com"}])
    ctx = {"operation_id": "op_cap", "event_group_id": "wf:run", "release": release}
    small = {**ctx, "max_result_bytes": 200}
    calls = [
        lambda: service.create_customers([{"email": "big@example.com"}], small),
        lambda: service.update_customers([one.id], {"metadata": {"k": "v" * 300}}, small),
        lambda: service.create_customer_groups([{"name": "g" * 250}], small),
    ]
    for call in calls:
        error = await unchanged_after(engine, call, InvalidDataError)
        assert "too large for one run" in str(error)
    # Under the cap the same step commits (and a repeat answers from its record).
    roomy = {**ctx, "max_result_bytes": 100_000}
    await service.update_customers([one.id], {"metadata": {"k": "v" * 300}}, roomy)
    [again] = await service.update_customers([one.id], {"metadata": {"k": "w"}}, roomy)
    assert again.metadata == {"k": "v" * 300}
