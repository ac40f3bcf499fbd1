from __future__ import annotations

import pytest

from customer_service import CustomerModuleService
from tests.helpers import Seed, seed_world


@pytest.fixture
async def world(service: CustomerModuleService) -> Seed:
    """Two customers (Ann with a home and a work address), group VIP with Ann as member."""
    return await seed_world(service)
