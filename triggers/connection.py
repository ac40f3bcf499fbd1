"""The one way to reach Temporal: a client with the project's data converter (pydantic JSON,
PII encrypted when a key is configured) and the TLS / API-key settings. The worker, the
`CustomerFlows` client, the CLI, the tests and the benchmarks all connect through it."""

from __future__ import annotations

from temporalio.client import Client
from temporalio.runtime import Runtime

from codec.converter import data_converter
from settings import Settings


async def connect(
    settings: Settings, address: str | None = None, runtime: Runtime | None = None
) -> Client:
    """A Temporal client for `address` (default: the configured `TEMPORAL_ADDRESS`).

    Raises:
        ConfigurationError: no address given and none configured (outside dev mode).
    """
    return await Client.connect(
        address or settings.require_temporal_address(),
        namespace=settings.temporal_namespace,
        api_key=settings.temporal_api_key,
        tls=settings.temporal_tls,
        data_converter=data_converter(settings),
        runtime=runtime,
    )
