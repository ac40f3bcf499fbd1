"""PII protection: payloads are encrypted in Temporal's history, the email search attribute is a
keyed hash, and the codec server decrypts for the Web UI (with CORS and bearer-token auth)."""

from __future__ import annotations

import base64
import json
import os
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import SecretStr
from temporalio.client import WorkflowFailureError
from temporalio.common import SearchAttributeKey
from temporalio.exceptions import ApplicationError

from activities.customer_activities import CustomerActivities
from codec import tags
from codec.server import serve
from customer_service import CustomerModuleService
from devstack.ports import free_port
from settings import Settings
from tests.helpers import serving
from triggers.connection import connect
from worker import build_worker
from workflows import CreateCustomersWorkflow
from workflows.contracts import CreateCustomersInput

KEY = base64.b64encode(os.urandom(32)).decode()
OLD_KEY = base64.b64encode(os.urandom(32)).decode()


@pytest.fixture
def pii_settings() -> Iterator[Settings]:
    settings = Settings(pii_keys=f"k1:{OLD_KEY},k2:{KEY}", pii_active_key="k2", pii_tag_key_id="k1")
    yield settings
    tags.configure(None)  # back to plain tags for the other tests of the session


async def test_history_holds_no_pii_in_clear(
    temporal_address: str, service: CustomerModuleService, pii_settings: Settings
) -> None:
    plain = await connect(Settings(), temporal_address)
    client = await connect(pii_settings, temporal_address)  # also switches tags to keyed hashes
    queue = f"pii-{uuid.uuid4().hex[:8]}"
    email = f"secret.person.{uuid.uuid4().hex[:6]}@example.com"
    tag = tags.email_tag(email)
    async with build_worker(client, CustomerActivities(service), pii_settings, queue):
        handle = await client.start_workflow(
            CreateCustomersWorkflow.run,
            CreateCustomersInput.model_validate(
                {"customers_data": [{"email": email, "first_name": "Zebulon", "last_name": "Quix"}]}
            ),
            id=f"pii-{uuid.uuid4().hex}",
            task_queue=queue,
        )
        result = await handle.result()
    assert result.customers[0].email == email  # the codec client reads it back decrypted

    history = await plain.get_workflow_handle(handle.id).fetch_history()
    raw = json.dumps(history.to_json_dict())
    for secret in (email, "Zebulon", "Quix"):
        assert secret not in raw
        assert base64.b64encode(secret.encode()).decode()[:12] not in raw
    description = await plain.get_workflow_handle(handle.id).describe()
    assert tag.startswith("h:")
    emails = description.typed_search_attributes.get(
        SearchAttributeKey.for_keyword_list("CustomerEmail")
    )
    assert emails == [tag]


async def test_failures_in_history_hold_no_pii_in_clear(
    temporal_address: str, service: CustomerModuleService, pii_settings: Settings
) -> None:
    """A business error names the email it is about; with a key set, the failure's message and
    stack trace are encrypted like the payloads (the codec client still reads them)."""
    plain = await connect(Settings(), temporal_address)
    client = await connect(pii_settings, temporal_address)
    queue = f"pii-{uuid.uuid4().hex[:8]}"
    email = f"taken.person.{uuid.uuid4().hex[:6]}@example.com"
    await service.create_customers([{"email": email, "has_account": False}])
    async with build_worker(client, CustomerActivities(service), pii_settings, queue):
        handle = await client.start_workflow(
            CreateCustomersWorkflow.run,
            CreateCustomersInput.model_validate({"customers_data": [{"email": email}]}),
            id=f"pii-{uuid.uuid4().hex}",
            task_queue=queue,
        )
        with pytest.raises(WorkflowFailureError) as info:
            await handle.result()
    cause = info.value.cause
    assert isinstance(cause, ApplicationError) and cause.type == "invalid_data"
    assert email in cause.message  # decrypted for the codec client

    history = await plain.get_workflow_handle(handle.id).fetch_history()
    raw = json.dumps(history.to_json_dict())
    assert "invalid_data" in raw  # the failure is there; its words are not
    assert email not in raw
    assert base64.b64encode(email.encode()).decode()[:12] not in raw


def _post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return (
                response.status,
                {k.lower(): v for k, v in response.headers.items()},
                response.read(),
            )
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read()


def test_codec_server_round_trip_cors_and_auth(pii_settings: Settings) -> None:
    settings = pii_settings.model_copy(
        update={"codec_server_port": free_port(), "codec_auth_token": SecretStr("s3cret")}
    )
    base = f"http://127.0.0.1:{settings.codec_server_port}"
    clear = {"payloads": [{"metadata": {"encoding": base64.b64encode(b"json/plain").decode()},
                           "data": base64.b64encode(b'"ann@example.com"').decode()}]}  # fmt: skip
    auth = {"Content-Type": "application/json", "Authorization": "Bearer s3cret",
            "Origin": "http://127.0.0.1:8233"}  # fmt: skip
    with serving(serve(settings, host="127.0.0.1")):
        status, _, _ = _post(f"{base}/encode", json.dumps(clear).encode(), {})
        assert status == 401
        status, headers, body = _post(f"{base}/encode", json.dumps(clear).encode(), auth)
        assert status == 200
        assert headers.get("access-control-allow-origin") == "http://127.0.0.1:8233"
        encoded: dict[str, Any] = json.loads(body)
        assert b"ann@example.com" not in base64.b64decode(encoded["payloads"][0]["data"])
        status, _, body = _post(f"{base}/decode", body, auth)
        assert status == 200
        decoded = json.loads(body)
        assert base64.b64decode(decoded["payloads"][0]["data"]) == b'"ann@example.com"'
        status, _, _ = _post(f"{base}/decode", b"not json", auth)
        assert status == 400


async def test_rotated_key_still_decrypts_old_payloads(pii_settings: Settings) -> None:
    from temporalio.api.common.v1 import Payload

    from codec.keys import KeyRing, load_key_ring
    from codec.payload_codec import EncryptionCodec

    old_only = EncryptionCodec(KeyRing("k1", {"k1": base64.b64decode(OLD_KEY)}))
    [sealed] = await old_only.encode([Payload(metadata={"encoding": b"json/plain"}, data=b"1")])
    ring = load_key_ring(pii_settings)
    assert ring is not None
    rotated = EncryptionCodec(ring)
    [opened] = await rotated.decode([sealed])
    assert opened.data == b"1"
    [resealed] = await rotated.encode([opened])
    assert resealed.metadata["encryption-key-id"] == b"k2"
