"""The token events' outbox (``auth.outbox``) is made by the shared migrations, and an auth
schema made before that keeps its rows when it is migrated."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import asyncpg
import orjson
import pytest

from shared.http.auth import AUTH_DDL, TokenAuthority
from shared.store.auth_outbox import migrate_auth_outbox
from shared.store.migrations import SHARED_SQL, load_migrations

pytestmark = pytest.mark.integration

# The auth DDL before its outbox came from the migrations: what such a database holds.
PREMIGRATION_OUTBOX = """
CREATE TABLE auth.outbox (
    id bigserial PRIMARY KEY, topic text NOT NULL, key text NOT NULL, slot integer NOT NULL,
    value bytea NOT NULL, headers jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at timestamptz NOT NULL DEFAULT now(), sent_at timestamptz,
    refusals integer NOT NULL DEFAULT 0, last_error text
);
CREATE INDEX outbox_unsent ON auth.outbox (slot, id) WHERE sent_at IS NULL;
CREATE FUNCTION auth.outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN PERFORM pg_notify('modelbus_outbox_auth', ''); RETURN NULL; END $$;
CREATE TRIGGER outbox_notify AFTER INSERT ON auth.outbox
    FOR EACH STATEMENT EXECUTE FUNCTION auth.outbox_notify();
CREATE TABLE auth.outbox_quarantine (
    id bigint PRIMARY KEY, topic text NOT NULL, key text NOT NULL, value bytea NOT NULL,
    headers jsonb NOT NULL, created_at timestamptz NOT NULL, refusals integer NOT NULL,
    error text NOT NULL, quarantined_at timestamptz NOT NULL DEFAULT now()
);
"""


@pytest.fixture
async def fresh_database(database_url: str) -> AsyncIterator[str]:
    """A database of its own: the auth schema is one per database."""
    name = f"auth_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(database_url)
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield database_url.rsplit("/", 1)[0] + f"/{name}"
    finally:
        await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        await admin.close()


async def test_the_auth_outbox_is_the_shared_migrations_and_token_events_land_in_it(
    fresh_database: str,
) -> None:
    pool = await asyncpg.create_pool(fresh_database, min_size=1, max_size=2)
    try:
        authority = TokenAuthority(pool)
        await authority.ensure_schema()
        applied = await pool.fetch("SELECT id FROM auth.schema_migrations ORDER BY id")
        assert [r["id"] for r in applied] == [m.id for m in load_migrations(SHARED_SQL)]
        await authority.issue("ops", "viewer")
        [row] = await pool.fetch("SELECT topic, headers FROM auth.outbox")
        assert row["topic"] == "auth.token_issued"
        # The wake-up trigger of the migrations notifies the auth relay's channel.
        assert await pool.fetchval(
            "SELECT count(*) FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid"
            " JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = 'auth' AND c.relname = 'outbox' AND t.tgname = 'outbox_notify'"
        )
    finally:
        await pool.close()


async def test_an_auth_schema_made_before_the_migrations_keeps_its_rows(
    fresh_database: str,
) -> None:
    conn = await asyncpg.connect(fresh_database)
    try:
        await conn.execute("CREATE SCHEMA auth")
        await conn.execute(PREMIGRATION_OUTBOX)
        await conn.execute(AUTH_DDL)
        await conn.execute(
            "INSERT INTO auth.outbox (topic, key, slot, value, headers, sent_at)"
            " VALUES ('auth.token_issued', 'k', 3, 'a', '{\"x\": \"1\"}', now()),"
            " ('auth.token_revoked', 'k', 3, 'b', '{}', NULL)"
        )
        await conn.execute(
            "INSERT INTO auth.outbox_quarantine (id, topic, key, value, headers, created_at,"
            " refusals, error) VALUES (7, 'auth.token_issued', 'q', 'c', '{}', now(), 5, 'big')"
        )

        applied = await migrate_auth_outbox(conn)

        assert applied == [m.id for m in load_migrations(SHARED_SQL)]
        rows = await conn.fetch(
            "SELECT id, topic, value, headers, sent_at IS NULL AS unsent FROM auth.outbox"
            " ORDER BY id"
        )
        assert [(r["id"], r["topic"], bytes(r["value"]), r["unsent"]) for r in rows] == [
            (1, "auth.token_issued", b"a", False),
            (2, "auth.token_revoked", b"b", True),
        ]
        assert orjson.loads(rows[0]["headers"]) == {"x": "1"}
        assert await conn.fetchval("SELECT error FROM auth.outbox_quarantine WHERE id = 7") == "big"
        # New rows continue after the old ids, and the migrated objects are the only ones.
        async with conn.transaction():
            await conn.execute("SET LOCAL search_path TO auth")
            next_id = await conn.fetchval(
                "INSERT INTO outbox (topic, key, slot, value) VALUES ('t', 'k', 1, 'd')"
                " RETURNING id"
            )
        assert next_id == 3
        leftovers = await conn.fetch(
            "SELECT relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = 'auth' AND relname LIKE '%premigration%'"
        )
        assert leftovers == []
        assert await migrate_auth_outbox(conn) == []  # and it is idempotent
    finally:
        await conn.close()
