"""Configuration that must not fail open: TLS with an API key, a pinned email-tag key, no
password in the `make dev` banner (docs/security.md)."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import pytest
from temporalio.service import TLSConfig

from codec import tags
from codec.converter import data_converter
from settings import ConfigurationError, Settings, redact_url
from triggers.connection import tls_config

KEY = base64.b64encode(os.urandom(32)).decode()


def test_api_key_alone_turns_tls_on() -> None:
    assert tls_config(Settings(temporal_api_key="k")) is True
    assert tls_config(Settings()) is False


def test_api_key_with_tls_turned_off_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="TEMPORAL_TLS"):
        tls_config(Settings(temporal_api_key="k", temporal_tls=False))


def test_client_certificates_make_an_mtls_config(tmp_path: Path) -> None:
    (tmp_path / "c.pem").write_bytes(b"CERT")
    (tmp_path / "k.pem").write_bytes(b"KEY")
    config = tls_config(
        Settings(
            temporal_tls_client_cert_path=tmp_path / "c.pem",
            temporal_tls_client_key_path=tmp_path / "k.pem",
        )
    )
    assert isinstance(config, TLSConfig)
    assert (config.client_cert, config.client_private_key) == (b"CERT", b"KEY")
    with pytest.raises(ConfigurationError, match="KEY_PATH"):
        tls_config(Settings(temporal_tls_client_cert_path=tmp_path / "c.pem"))


@pytest.mark.parametrize("tag_key", [None, "nope"])
def test_keys_without_a_pinned_tag_key_are_refused(tag_key: str | None) -> None:
    settings = Settings(pii_keys=f"k1:{KEY}", pii_active_key="k1", pii_tag_key_id=tag_key)
    try:
        with pytest.raises(ConfigurationError, match="PII_TAG_KEY_ID"):
            data_converter(settings)
    finally:
        tags.configure(None)


def test_tag_survives_rotation_of_the_active_key() -> None:
    new = base64.b64encode(os.urandom(32)).decode()
    try:
        data_converter(Settings(pii_keys=f"k1:{KEY}", pii_active_key="k1", pii_tag_key_id="k1"))
        before = tags.email_tag("ann@example.com")
        rotated = Settings(pii_keys=f"k1:{KEY},k2:{new}", pii_active_key="k2", pii_tag_key_id="k1")
        data_converter(rotated)
        assert tags.email_tag("ann@example.com") == before
    finally:
        tags.configure(None)


def test_banner_url_hides_the_password() -> None:
    shown = redact_url("postgresql+psycopg://app:pa%40ss-w0rd@db:5432/app")
    assert "pa%40ss-w0rd" not in shown and "pa@ss-w0rd" not in shown
    assert shown.startswith("postgresql+psycopg://app:") and shown.endswith("@db:5432/app")


def test_migrate_job_output_names_no_password() -> None:
    """The migrate job (`alembic upgrade head`) failing to connect prints why, not the URL's
    password (a guard: nothing in the migration path echoes the URL)."""
    import subprocess
    import sys

    env = {"PATH": os.environ["PATH"], "DATABASE_URL": "postgresql://app:Sup3rPw@127.0.0.1:1/a"}
    result = subprocess.run(
        [sys.executable, "-m", "alembic", "upgrade", "head"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=Path(__file__).resolve().parents[2],
        env=env,
    )
    assert result.returncode != 0
    assert "Connection refused" in result.stderr
    assert "Sup3rPw" not in result.stdout + result.stderr


def test_activity_slots_are_sized_from_the_pool() -> None:
    assert Settings().max_concurrent_activities == 2 * Settings().db_pool_size
    assert Settings(db_pool_size=32).max_concurrent_activities == 64
    with pytest.raises(ValueError, match="DB_POOL_SIZE"):
        Settings(db_pool_size=10, max_concurrent_activities=64)


def test_shutdown_drains_within_compose_grace_period() -> None:
    import yaml

    from worker import GRACEFUL_SHUTDOWN
    from workflows.policies import FORWARD_START_TO_CLOSE

    compose = yaml.safe_load(
        (Path(__file__).resolve().parents[2] / "docker-compose.yml").read_text()
    )
    grace = compose["services"]["worker"]["stop_grace_period"]
    assert grace.endswith("s")
    assert FORWARD_START_TO_CLOSE < GRACEFUL_SHUTDOWN
    assert GRACEFUL_SHUTDOWN.total_seconds() + 10 <= int(grace[:-1])


async def test_temporal_profile_is_used_and_cannot_send_a_key_in_plaintext(
    temporal_address: str, tmp_path: Path
) -> None:
    from triggers.connection import connect

    config = tmp_path / "temporal.toml"
    config.write_text(
        f'[profile.ci]\naddress = "{temporal_address}"\nnamespace = "default"\n\n'
        f'[profile.leaky]\naddress = "{temporal_address}"\napi_key = "k"\n'
        "[profile.leaky.tls]\ndisabled = true\n"
    )
    client = await connect(Settings(temporal_profile="ci", temporal_config_file=config))
    assert client.namespace == "default"
    assert (await client.count_workflows("WorkflowType = 'nothing-runs-this'")).count == 0
    with pytest.raises(ConfigurationError, match="TLS"):
        await connect(Settings(temporal_profile="leaky", temporal_config_file=config))
