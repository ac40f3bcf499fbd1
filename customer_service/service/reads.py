"""Generic reads (retrieve, list, list and count) of any entity, each on a pooled connection in
autocommit (`db.read`): one round trip per statement, no transaction around them."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Mapping
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from customer_service.db import autocommit_engine, read
from customer_service.entities import D, EntitySpec
from customer_service.queries import Config, count_rows, list_rows, parse_config, retrieve_row

Filters = Mapping[str, Any] | None
A = TypeVar("A")
B = TypeVar("B")


async def both(first: Awaitable[A], second: Awaitable[B]) -> tuple[A, B]:
    """Both awaited concurrently; when one fails the other is cancelled, and the error raised."""
    tasks = (asyncio.ensure_future(first), asyncio.ensure_future(second))
    try:
        return await tasks[0], await tasks[1]
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise


class Reads:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.sessions = sessions
        engine: AsyncEngine = sessions.kw["bind"]
        self.engine = autocommit_engine(engine)

    async def retrieve(self, spec: EntitySpec[D], entity_id: str, config: Config) -> D:
        cfg = parse_config(config)
        return await read(self.engine, lambda c: retrieve_row(c, spec, entity_id, cfg))

    async def list_rows(self, spec: EntitySpec[D], filters: Filters, config: Config) -> list[D]:
        cfg = parse_config(config)
        return await read(self.engine, lambda c: list_rows(c, spec, filters, cfg))

    async def list_and_count(
        self, spec: EntitySpec[D], filters: Filters, config: Config
    ) -> tuple[list[D], int]:
        """The page and the count on two connections at once (Medusa's listAndCount runs them
        one after the other, outside a transaction too): the answer takes as long as the
        slower of the two, not their sum."""
        cfg = parse_config(config)
        return await both(
            read(self.engine, lambda c: list_rows(c, spec, filters, cfg)),
            read(self.engine, lambda c: count_rows(c, spec, filters, cfg)),
        )
