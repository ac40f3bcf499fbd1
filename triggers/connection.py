"""The one way to reach Temporal: a client with the project's data converter (pydantic JSON,
PII encrypted when a key is configured) and the TLS / API-key settings. The worker, the
`CustomerFlows` client, the CLI, the tests and the benchmarks all connect through it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from temporalio.client import Client
from temporalio.runtime import Runtime
from temporalio.service import TLSConfig

from codec.converter import data_converter
from settings import ConfigurationError, Settings


def _read(path: Path | None) -> bytes | None:
    return path.read_bytes() if path else None


def tls_config(settings: Settings) -> TLSConfig | bool:
    """TLS for the Temporal connection: on when `TEMPORAL_TLS` says so, when client certificates
    or a CA are configured, and — `TEMPORAL_TLS` unset — whenever an API key is set. Turning it
    off explicitly while sending an API key is refused."""
    certs = (
        settings.temporal_tls_client_cert_path,
        settings.temporal_tls_client_key_path,
        settings.temporal_tls_server_ca_cert_path,
    )
    if settings.temporal_tls is False:
        if settings.temporal_api_key is not None or any(certs):
            raise ConfigurationError(
                "TEMPORAL_TLS=false with TEMPORAL_API_KEY or TLS certificates set: "
                "the key would travel in plaintext; unset TEMPORAL_TLS"
            )
        return False
    cert, key = settings.temporal_tls_client_cert_path, settings.temporal_tls_client_key_path
    if (cert is None) != (key is None):
        raise ConfigurationError(
            "set both TEMPORAL_TLS_CLIENT_CERT_PATH and TEMPORAL_TLS_CLIENT_KEY_PATH, or neither"
        )
    if any(certs) or settings.temporal_tls_server_name:
        return TLSConfig(
            server_root_ca_cert=_read(settings.temporal_tls_server_ca_cert_path),
            client_cert=_read(cert),
            client_private_key=_read(key),
            domain=settings.temporal_tls_server_name,
        )
    return bool(settings.temporal_tls) or settings.temporal_api_key is not None


async def connect(
    settings: Settings, address: str | None = None, runtime: Runtime | None = None
) -> Client:
    """A Temporal client for `address` (default: the configured `TEMPORAL_ADDRESS`).

    With `TEMPORAL_PROFILE` or `TEMPORAL_CONFIG_FILE` set, the connection (address, namespace,
    API key, TLS and client certificates) comes from that `temporal.toml` profile, the one the
    `temporal` CLI uses (`temporalio.envconfig`; its `TEMPORAL_*` variables override it).

    Raises:
        ConfigurationError: no address given and none configured (outside dev mode).
    """
    if settings.temporal_profile or settings.temporal_config_file:
        return await _connect_profile(settings, address, runtime)
    return await Client.connect(
        address or settings.require_temporal_address(),
        namespace=settings.temporal_namespace,
        api_key=settings.temporal_api_key.get_secret_value() if settings.temporal_api_key else None,
        tls=tls_config(settings),
        data_converter=data_converter(settings),
        runtime=runtime,
    )


async def _connect_profile(
    settings: Settings, address: str | None, runtime: Runtime | None
) -> Client:
    from temporalio.envconfig import ClientConfig

    file = settings.temporal_config_file
    config: dict[str, Any] = dict(
        ClientConfig.load_client_connect_config(
            settings.temporal_profile, config_file=str(file) if file else None
        )
    )
    profile_address = config.pop("target_host", None)
    target = address or profile_address or settings.require_temporal_address()
    if config.get("api_key") and config.get("tls") is False:
        raise ConfigurationError("the Temporal profile sends an API key with TLS disabled")
    return await Client.connect(
        target, **config, data_converter=data_converter(settings), runtime=runtime
    )
