"""The ``auth`` schema's outbox: made by the shared migrations, as every service's is.

Issuing or revoking a token writes its audit event to ``auth.outbox`` in the transaction
that changes the token, and governance relays it. The tables, index and wake-up trigger
are the ones ``shared/store/sql`` gives every schema, applied to ``auth``.

A schema made before that (the token store's DDL created its outbox itself) has the objects
but no migration record: its outbox objects are renamed out of the way, the migrations run,
and the rows move over with their ids, in one transaction.
"""

from __future__ import annotations

from shared.store.db import Connection
from shared.store.migrations import SHARED_SQL, load_migrations, migrate

AUTH_SCHEMA = "auth"

_RELATION = (
    "EXISTS (SELECT 1 FROM pg_catalog.pg_class c"
    " JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
    " WHERE n.nspname = 'auth' AND c.relname = '{}')"
)
_MADE_BEFORE_MIGRATIONS = (
    f"SELECT {_RELATION.format('outbox')} AND NOT {_RELATION.format('schema_migrations')}"
)
_SET_ASIDE = """
DROP TRIGGER IF EXISTS outbox_notify ON auth.outbox;
DROP FUNCTION IF EXISTS auth.outbox_notify();
ALTER TABLE auth.outbox RENAME TO outbox_premigration;
ALTER TABLE auth.outbox_premigration RENAME CONSTRAINT outbox_pkey TO outbox_premigration_pkey;
ALTER SEQUENCE auth.outbox_id_seq RENAME TO outbox_premigration_id_seq;
ALTER INDEX IF EXISTS auth.outbox_unsent RENAME TO outbox_premigration_unsent;
ALTER TABLE auth.outbox_quarantine RENAME TO outbox_quarantine_premigration;
ALTER TABLE auth.outbox_quarantine_premigration
    RENAME CONSTRAINT outbox_quarantine_pkey TO outbox_quarantine_premigration_pkey;
"""
_MOVE_OVER = """
INSERT INTO auth.outbox
    (id, topic, key, slot, value, headers, created_at, sent_at, refusals, last_error)
SELECT id, topic, key, slot, value, headers, created_at, sent_at, refusals, last_error
FROM auth.outbox_premigration;
SELECT setval('auth.outbox_id_seq', COALESCE(max(id), 0) + 1, false) FROM auth.outbox;
INSERT INTO auth.outbox_quarantine
    (id, topic, key, value, headers, created_at, refusals, error, quarantined_at)
SELECT id, topic, key, value, headers, created_at, refusals, error, quarantined_at
FROM auth.outbox_quarantine_premigration;
DROP TABLE auth.outbox_premigration, auth.outbox_quarantine_premigration;
"""


async def migrate_auth_outbox(conn: Connection) -> list[str]:
    """Apply the shared migrations to ``auth`` (which must exist); return the ids applied now."""
    async with conn.transaction():
        made_before = await conn.fetchval(_MADE_BEFORE_MIGRATIONS)
        if made_before:
            await conn.execute(_SET_ASIDE)
        applied = await migrate(conn, AUTH_SCHEMA, load_migrations(SHARED_SQL))
        if made_before:
            await conn.execute(_MOVE_OVER)
        # migrate() set the search path for the rest of the caller's transaction.
        await conn.execute("SET LOCAL search_path TO DEFAULT")
    return applied
