"""Generic reads (retrieve, list, list and count) of any entity, one transaction each."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from customer_service.db import transaction
from customer_service.entities import D, EntitySpec
from customer_service.queries import Config, count_rows, list_rows, parse_config, retrieve_row

Filters = Mapping[str, Any] | None


class Reads:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.sessions = sessions

    async def retrieve(self, spec: EntitySpec[D], entity_id: str, config: Config) -> D:
        async with transaction(self.sessions) as session:
            return await retrieve_row(session, spec, entity_id, parse_config(config))

    async def list_rows(self, spec: EntitySpec[D], filters: Filters, config: Config) -> list[D]:
        async with transaction(self.sessions) as session:
            return await list_rows(session, spec, filters, parse_config(config))

    async def list_and_count(
        self, spec: EntitySpec[D], filters: Filters, config: Config
    ) -> tuple[list[D], int]:
        cfg = parse_config(config)
        async with transaction(self.sessions) as session:
            rows = await list_rows(session, spec, filters, cfg)
            return rows, await count_rows(session, spec, filters, cfg)
