"""PII, SQL and secrets stay out of logs, Temporal failures and settings' text (docs/security.md)."""

from __future__ import annotations

import json
import logging
import traceback
import uuid

import pytest
from sqlalchemy import exc as sa_exc
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import Client, WorkflowFailureError

from activities.customer_activities import CustomerActivities
from customer_service import CustomerModuleService
from customer_service.errors import AlreadyExistsError
from settings import Settings
from worker import build_worker
from workflows import CreateCustomersWorkflow
from workflows.contracts import CreateCustomersInput

# What a database error's text would carry: its SQL, psycopg's name, the DETAIL quoting the row.
SQL_MARKS = ("INSERT INTO", "SELECT", "psycopg", "DETAIL", "Key (", "[parameters")


async def test_database_errors_never_quote_bound_values(engine: AsyncEngine) -> None:
    secret = f"bound.{uuid.uuid4().hex[:8]}@example.com"
    with pytest.raises(sa_exc.DBAPIError) as info:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT length(:email) / 0"), {"email": secret})
    assert secret not in str(info.value)
    assert secret not in "".join(traceback.format_exception(info.value))


async def test_domain_error_carries_no_database_error(service: CustomerModuleService) -> None:
    email = f"taken.{uuid.uuid4().hex[:8]}@example.com"
    row = {"email": email, "last_name": "Quimby"}
    await service.create_customers([row])
    with pytest.raises(AlreadyExistsError) as info:
        await service.create_customers([row])
    assert info.value.__cause__ is None
    assert info.value.__suppress_context__
    shown = "".join(traceback.format_exception(info.value))
    for mark in (*SQL_MARKS, "Quimby"):
        assert mark not in shown, mark


async def test_business_failure_reaches_temporal_and_logs_without_sql(
    temporal_client: Client, service: CustomerModuleService, caplog: pytest.LogCaptureFixture
) -> None:
    """A duplicate email: the run fails typed; neither its history nor any log record (at any
    level, tracebacks included) holds the SQL, the DETAIL quoting the row, or the row's values."""
    email = f"dup.{uuid.uuid4().hex[:8]}@example.com"
    await service.create_customers([{"email": email, "last_name": "Quimby"}])
    queue = f"leak-{uuid.uuid4().hex[:8]}"
    caplog.set_level(logging.DEBUG)
    async with build_worker(temporal_client, CustomerActivities(service), Settings(), queue):
        handle = await temporal_client.start_workflow(
            CreateCustomersWorkflow.run,
            CreateCustomersInput.model_validate(
                {"customers_data": [{"email": email, "last_name": "Quimby"}]}
            ),
            id=f"leak-{uuid.uuid4().hex}",
            task_queue=queue,
        )
        with pytest.raises(WorkflowFailureError):
            await handle.result()
    history = json.dumps((await handle.fetch_history()).to_json_dict())
    assert "already exists" in history  # the failure is there, in Medusa's words
    logged = (
        "\n".join(
            record.getMessage() + (caplog.text if record.exc_info else "")
            for record in caplog.records
        )
        + caplog.text
    )
    for mark in (*SQL_MARKS, "Quimby"):
        assert mark not in history, mark
        assert mark not in logged, mark


def test_settings_text_hides_secrets() -> None:
    settings = Settings(
        database_url="postgresql://app:db-pa55word@db:5432/app",
        temporal_api_key="api-key-s3cret",
        codec_auth_token="codec-t0ken-s3cret",
        pii_keys="k1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        jwt_secret="jwt-s3cret",
    )
    shown = repr(settings) + str(settings) + json.dumps(settings.model_dump(mode="json"))
    for secret in (
        "db-pa55word",
        "api-key-s3cret",
        "codec-t0ken-s3cret",
        "AAAAAAAAAAAA",
        "jwt-s3cret",
    ):
        assert secret not in shown, secret
    assert settings.require_database_url() == "postgresql+psycopg://app:db-pa55word@db:5432/app"
