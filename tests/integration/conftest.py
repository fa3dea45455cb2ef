"""Fixtures shared by the integration tests that check every service alike."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from tests.support.built_services import Built, built_services


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def built(
    database_url: str, kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[dict[str, Built]]:
    """Every service built as the runtime builds it, once per test module."""
    home = tmp_path_factory.mktemp("built-services")
    async with built_services(database_url, kafka_bootstrap, home) as apps:
        yield apps
