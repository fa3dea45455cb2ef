"""The artifact store contract, honoured by the Postgres store on a real database."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest
import pytest_asyncio

from shared.events.common import ArtifactRef
from shared.store.artifacts import ArtifactStore, PostgresArtifactStore, open_store
from tests.support.artifact_contract import ArtifactStoreContract

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="module")]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=4)
    assert pool is not None
    yield pool
    await pool.close()


class TestPostgresStore(ArtifactStoreContract):
    @pytest_asyncio.fixture(loop_scope="module")
    async def artifacts(self, pool: asyncpg.Pool) -> ArtifactStore:
        return await open_store("postgres", pool)  # creates the artifacts schema if need be

    async def corrupt(self, artifacts: ArtifactStore, ref: ArtifactRef) -> None:
        assert isinstance(artifacts, PostgresArtifactStore)
        await artifacts.pool.execute(
            "UPDATE artifacts.blobs SET data = set_byte(data, 0, get_byte(data, 0) # 255)"
            " WHERE sha256 = $1",
            ref.sha256,
        )


async def test_two_stores_share_one_schema(pool: asyncpg.Pool) -> None:
    """Every service opens the store at start-up; opening it again keeps what is stored."""
    first = await open_store("postgres", pool)
    ref = await first.put(b"kept across openings")
    second = await open_store("postgres", pool)
    assert await second.get(ref) == b"kept across openings"
