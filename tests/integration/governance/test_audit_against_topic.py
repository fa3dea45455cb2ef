"""``modelbus audit verify --against-topic``: a log truncated (or rewritten) together with
its checkpoint table passes the database-only check, and fails against the checkpoints
governance published on ``governance.checkpoints``, naming the seq where history diverges.

The log is built by the real append path in a schema of its own; its checkpoints reach the
real broker through the real outbox relay.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
from collections.abc import AsyncIterator
from dataclasses import replace

import asyncpg
import pytest
import pytest_asyncio

from modelbus.cli import main
from services.governance.audit.log import AuditLog
from services.governance.bootstrap import definition
from shared.bus.kafka import ensure_topics, start_producer
from shared.bus.relay import OutboxRelay
from shared.events.envelope import new_event
from shared.runtime import connect_and_migrate
from shared.settings import Settings, get_settings
from tests.integration.governance.conftest import AUDIT_KEY, LOOP
from tests.support.events import deployed, drift, registered, trained

pytestmark = [pytest.mark.integration, LOOP]


def _events(tag: str, count: int) -> list[object]:
    kinds = [trained, registered, lambda n: deployed(n, 1), lambda n: drift(n, 1)]
    return [new_event(kinds[i % 4](f"{tag}-{i % 3}"), source="test") for i in range(count)]


async def _published_log(settings: Settings, schema: str) -> asyncpg.Pool:
    """Ten records with checkpoints at 4 and 8, published by the relay."""
    pool = await connect_and_migrate(replace(definition(), name=schema), settings)
    log = AuditLog(AUDIT_KEY.encode(), checkpoint_every=4, name=schema)
    async with pool.acquire() as conn, conn.transaction():
        for event in _events("first", 10):
            await log.append(conn, event)  # type: ignore[arg-type]
    await ensure_topics(settings)  # as a service does at start-up
    producer = await start_producer(settings)
    try:
        relay = OutboxRelay(pool, producer, schema=schema)
        while await relay.publish_once():
            pass
    finally:
        await producer.stop()
    return pool


async def _truncate(conn: asyncpg.Connection, keep: int) -> None:
    """Delete every checkpoint and every record after ``keep``; move the head back."""
    await conn.execute("ALTER TABLE audit_log DISABLE TRIGGER USER")
    await conn.execute("ALTER TABLE audit_checkpoints DISABLE TRIGGER USER")
    await conn.execute("DELETE FROM audit_checkpoints")
    await conn.execute("DELETE FROM audit_log WHERE seq > $1", keep)
    chain = await conn.fetchval("SELECT chain_hash FROM audit_log WHERE seq = $1", keep)
    await conn.execute("UPDATE audit_head SET seq = $1, chain_hash = $2", keep, chain)


def _verify(database_url: str, schema: str, *against: str) -> tuple[int, str]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        code = main(
            ["audit", "verify", "--schema", schema, "--database-url", database_url, *against]
        )
    return code, out.getvalue()


@pytest_asyncio.fixture(loop_scope="package")
async def schemas(database_url: str) -> AsyncIterator[list[str]]:
    made: list[str] = []
    yield made
    conn = await asyncpg.connect(database_url)
    for schema in made:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    await conn.close()


async def test_truncation_and_rewrite_are_detected_against_the_topic(
    database_url: str, kafka_bootstrap: str, schemas: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = Settings(database_url=database_url, kafka_bootstrap=kafka_bootstrap)
    truncated, rewritten = (f"audit_topic_{kind}_{os.urandom(4).hex()}" for kind in "tr")
    schemas.extend([truncated, rewritten])
    for schema in (truncated, rewritten):
        pool = await _published_log(settings, schema)
        async with pool.acquire() as conn:
            await _truncate(conn, keep=6 if schema == truncated else 3)
            if schema == rewritten:  # and a different history appended in its place
                log = AuditLog(AUDIT_KEY.encode(), checkpoint_every=100, name=schema, publish=False)
                async with conn.transaction():
                    for event in _events("forged", 5):
                        await log.append(conn, event)  # type: ignore[arg-type]
        await pool.close()

    monkeypatch.setenv("MODELBUS_GOVERNANCE_AUDIT_KEY", AUDIT_KEY)
    monkeypatch.setenv("MODELBUS_KAFKA_BOOTSTRAP", kafka_bootstrap)
    get_settings.cache_clear()
    try:
        alone = await asyncio.to_thread(_verify, database_url, truncated)
        cut = await asyncio.to_thread(_verify, database_url, truncated, "--against-topic")
        forged = await asyncio.to_thread(_verify, database_url, rewritten, "--against-topic")
    finally:
        get_settings.cache_clear()

    # The database alone cannot tell: every checkpoint that would expose it is gone.
    assert alone[0] == 0 and "audit log OK: 6 records" in alone[1], alone[1]
    assert cut[0] == 1, cut[1]
    assert (
        "BROKEN at seq 7: the log ends at seq 6 but governance published a checkpoint at seq 8"
        in cut[1]
    )
    assert forged[0] == 1, forged[1]
    assert "BROKEN at seq 4: the log is not the one governance published" in forged[1]
    assert "history diverges after seq 0" in forged[1]
