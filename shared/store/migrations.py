"""Forward-only SQL migrations, applied at start-up and recorded per schema.

Files are named ``NNNN_description.sql`` and run in order, each in its own transaction
together with its row in ``<schema>.schema_migrations``. A transaction-level advisory lock
keyed by the schema serialises replicas that start at the same time: the second waits,
then finds the migrations recorded and applies nothing. An applied file is never edited;
a change is a new file.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable

from shared.store.db import Connection

SHARED_SQL = resources.files("shared.store") / "sql"


@dataclass(frozen=True)
class Migration:
    id: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def load_migrations(*folders: Traversable) -> list[Migration]:
    """Shared migrations (inbox, outbox) first, then the service's own, each folder in name order."""
    found: list[Migration] = []
    for folder in folders:
        files = sorted(
            (f for f in folder.iterdir() if f.name.endswith(".sql")), key=lambda f: f.name
        )
        prefix = "shared" if folder == SHARED_SQL else "service"
        found.extend(Migration(f"{prefix}/{f.name}", f.read_text()) for f in files)
    return found


async def migrate(conn: Connection, schema: str, migrations: list[Migration]) -> list[str]:
    """Apply what is missing; return the ids applied now. Refuses an edited, applied file."""
    applied_now: list[str] = []
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", f"migrate:{schema}")
        # CREATE SCHEMA checks the database privilege before IF NOT EXISTS, and a
        # service's role owns its provisioned schema but may create none.
        if not await conn.fetchval("SELECT 1 FROM pg_namespace WHERE nspname = $1", schema):
            await conn.execute(f'CREATE SCHEMA "{schema}"')
        await conn.execute(
            f'CREATE TABLE IF NOT EXISTS "{schema}".schema_migrations ('
            " id text PRIMARY KEY, checksum text NOT NULL,"
            " applied_at timestamptz NOT NULL DEFAULT now())"
        )
        rows = await conn.fetch(f'SELECT id, checksum FROM "{schema}".schema_migrations')
        done = {r["id"]: r["checksum"] for r in rows}
        await conn.execute(f'SET LOCAL search_path TO "{schema}", public')
        for migration in migrations:
            if migration.id in done:
                if done[migration.id] != migration.checksum:
                    raise RuntimeError(
                        f"migration {migration.id} in schema {schema} was edited after it was "
                        "applied; add a new migration instead"
                    )
                continue
            await conn.execute(migration.sql)
            await conn.execute(
                f'INSERT INTO "{schema}".schema_migrations (id, checksum) VALUES ($1, $2)',
                migration.id,
                migration.checksum,
            )
            applied_now.append(migration.id)
    return applied_now
