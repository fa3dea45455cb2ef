"""Services starting together on a database nobody provisioned create the token store once."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg

from shared.http.auth import TokenAuthority


async def test_six_services_starting_at_once_create_the_token_store_once(
    database_url: str,
) -> None:
    name = f"race_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(database_url)
    await admin.execute(f'CREATE DATABASE "{name}"')
    fresh = database_url.rsplit("/", 1)[0] + f"/{name}"
    pools = [await asyncpg.create_pool(fresh, min_size=1, max_size=1) for _ in range(6)]
    try:
        await asyncio.gather(*(TokenAuthority(pool).ensure_schema() for pool in pools))
        token = await TokenAuthority(pools[0]).issue("ops", "viewer")
        assert await TokenAuthority(pools[1], cache_s=0.0).authenticate(token) is not None
    finally:
        for pool in pools:
            await pool.close()
        await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        await admin.close()
