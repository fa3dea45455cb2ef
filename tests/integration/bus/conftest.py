"""Fixtures of the bus acceptance tests: topics, a fresh schema per test, its consumer group."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest

from shared.bus.kafka import ensure_topics
from shared.settings import Settings
from tests.integration.bus.harness import drop_schema, open_schema


@pytest.fixture
async def bus_settings(settings: Settings) -> Settings:
    """Settings with every topic created (idempotent, so cheap after the first test)."""
    await ensure_topics(settings)
    return settings


@pytest.fixture
def schema(unique: str) -> str:
    """The test's schema; also its consumer group and the service name in its metrics."""
    return f"bus_{unique}"


@pytest.fixture
async def pool(database_url: str, schema: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await open_schema(database_url, schema)
    try:
        yield pool
    finally:
        await drop_schema(pool, schema)
