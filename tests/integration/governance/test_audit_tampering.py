"""`modelbus audit verify` against tampered logs: each kind names the first broken seq.

Each scenario gets a schema of its own holding a small chain built by the real append path
(the shared governance log stays untouched); the tampering is plain SQL by someone with
database rights but without the checkpoint key. The command runs in-process (argument
parsing, exit code and output included): a Python start-up per scenario costs more than
the whole scenario on a busy CI machine.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from typing import Any

import asyncpg
import pytest
import pytest_asyncio

from modelbus.cli import main
from services.governance.audit.hashing import GENESIS, chain_hash, record_hash, sign_checkpoint
from services.governance.audit.log import AuditLog
from services.governance.bootstrap import definition
from services.governance.store.audit_log import record_of
from shared.events.envelope import new_event
from shared.runtime import connect_and_migrate
from shared.settings import Settings
from tests.integration.governance.conftest import AUDIT_KEY, LOOP
from tests.support.events import deployed, drift, registered, trained

pytestmark = [pytest.mark.integration, LOOP]

Tamper = Callable[[asyncpg.Connection], Awaitable[None]]


async def _edit(conn: asyncpg.Connection) -> None:
    await conn.execute("UPDATE audit_log SET actor = 'mallory' WHERE seq = 5")


async def _delete(conn: asyncpg.Connection) -> None:
    await conn.execute("DELETE FROM audit_log WHERE seq = 6")


async def _swap(conn: asyncpg.Connection) -> None:
    await conn.execute("UPDATE audit_log SET seq = -3 WHERE seq = 3")
    await conn.execute("UPDATE audit_log SET seq = 3 WHERE seq = 7")
    await conn.execute("UPDATE audit_log SET seq = 7 WHERE seq = -3")


async def _truncate(conn: asyncpg.Connection) -> None:
    await conn.execute("DELETE FROM audit_log WHERE seq > 7")


async def _rewrite(conn: asyncpg.Connection) -> None:
    """Change who registered alpha and recompute every hash after it, as the code does."""
    heads: dict[str, tuple[int, str]] = {}
    chain = GENESIS
    for row in await conn.fetch("SELECT * FROM audit_log ORDER BY seq"):
        record = record_of(row)
        if row["seq"] == 2:
            record = record.model_copy(update={"actor": "mallory"})
        model_seq, prev = heads.get(record.model_name, (0, GENESIS))
        record = record.model_copy(update={"prev_hash": prev, "model_seq": model_seq + 1})
        record = record.model_copy(update={"hash": record_hash(record)})
        chain = chain_hash(record.seq, chain, record.hash)
        heads[record.model_name] = (record.model_seq, record.hash)
        await conn.execute(
            "UPDATE audit_log SET actor = $2, prev_hash = $3, hash = $4, chain_hash = $5"
            " WHERE seq = $1",
            record.seq,
            record.actor,
            record.prev_hash,
            record.hash,
            chain,
        )


async def _rewrite_and_resign(conn: asyncpg.Connection) -> None:
    await _rewrite(conn)
    await conn.execute("ALTER TABLE audit_checkpoints DISABLE TRIGGER USER")
    for seq in (4, 8, 10):
        chain = await conn.fetchval("SELECT chain_hash FROM audit_log WHERE seq = $1", seq)
        await conn.execute(
            "UPDATE audit_checkpoints SET chain_hash = $2, signature = $3 WHERE seq = $1",
            seq,
            chain,
            sign_checkpoint(b"guess" * 8, seq, chain),
        )


async def _prune(conn: asyncpg.Connection) -> None:
    """Delete one checkpoint at a multiple of N (as someone hiding a later rewrite would)."""
    await conn.execute("ALTER TABLE audit_checkpoints DISABLE TRIGGER USER")
    await conn.execute("DELETE FROM audit_checkpoints WHERE seq = 8")


async def _nothing(conn: asyncpg.Connection) -> None:
    return None


SCENARIOS: dict[str, tuple[Tamper, int, str]] = {  # -> (tampering, exit code, verdict)
    "intact": (_nothing, 0, "audit log OK: 10 records and 3 signed checkpoints verified"),
    "edited": (_edit, 1, "BROKEN at seq 5: record content does not match its hash"),
    "deleted": (_delete, 1, "BROKEN at seq 6: record 6 is missing"),
    "swapped": (_swap, 1, "BROKEN at seq 3: record does not follow"),
    "truncated": (_truncate, 1, "BROKEN at seq 8: the log ends at seq 7 but a checkpoint"),
    "rewritten": (_rewrite, 1, "BROKEN at seq 4: signed checkpoint does not match the chain"),
    "resigned": (_rewrite_and_resign, 1, "BROKEN at seq 4: checkpoint signature is invalid"),
    "pruned": (_prune, 1, "BROKEN at seq 8: no signed checkpoint at seq 8"),
}


def _events() -> list[Any]:
    payloads = [
        trained("alpha"),
        registered("alpha"),
        trained("beta"),
        deployed("alpha", 1),
        registered("beta"),
        registered("gamma"),
        drift("alpha", 1),
        deployed("beta", 1),
        deployed("gamma", 1),
        drift("gamma", 1),
    ]
    return [new_event(p, source="test") for p in payloads]


async def _build(database_url: str, schema: str, tamper: Tamper) -> None:
    governance_in_schema = replace(definition(), name=schema)
    pool = await connect_and_migrate(governance_in_schema, Settings(database_url=database_url))
    try:
        async with pool.acquire() as conn:
            log = AuditLog(AUDIT_KEY.encode(), checkpoint_every=4)
            async with conn.transaction():
                for event in _events():
                    await log.append(conn, event)
                await log.checkpoint(conn)  # on demand, at the head (seq 10)
            await conn.execute("ALTER TABLE audit_log DISABLE TRIGGER USER")
            await tamper(conn)  # type: ignore[arg-type]
    finally:
        await pool.close()


def _verify(database_url: str, schema: str) -> tuple[int, str]:
    """``modelbus audit verify --schema SCHEMA``: its exit code and what it printed."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        code = main(["audit", "verify", "--schema", schema, "--database-url", database_url])
    return code, out.getvalue()


@pytest_asyncio.fixture(scope="module", loop_scope="package")
async def verdicts(database_url: str) -> AsyncIterator[dict[str, tuple[int, str]]]:
    suffix = os.urandom(4).hex()
    schemas = {name: f"audit_tamper_{name}_{suffix}" for name in SCENARIOS}
    try:
        results = {}
        with pytest.MonkeyPatch.context() as env:
            env.setenv("MODELBUS_GOVERNANCE_AUDIT_KEY", AUDIT_KEY)
            env.setenv("MODELBUS_GOVERNANCE_CHECKPOINT_EVERY", "4")  # as the logs were built
            for name, schema in schemas.items():
                await _build(database_url, schema, SCENARIOS[name][0])
                # In a thread: the command runs its own event loop.
                results[name] = await asyncio.to_thread(_verify, database_url, schema)
        yield results
    finally:
        conn = await asyncpg.connect(database_url)
        for schema in schemas.values():
            await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        await conn.close()


@pytest.mark.parametrize("scenario", SCENARIOS)
async def test_verify_names_the_first_broken_seq(
    verdicts: dict[str, tuple[int, str]], scenario: str
) -> None:
    _, code, verdict = SCENARIOS[scenario]
    returncode, output = verdicts[scenario]
    assert (returncode, verdict in output) == (code, True), output


async def test_the_log_refuses_updates_while_its_guard_is_in_place(database_url: str) -> None:
    schema = f"audit_guard_{os.urandom(4).hex()}"
    await _build(database_url, schema, _nothing)
    conn = await asyncpg.connect(database_url, server_settings={"search_path": schema})
    try:
        await conn.execute("ALTER TABLE audit_log ENABLE TRIGGER USER")
        for statement in (
            "UPDATE audit_log SET actor = 'x'",
            "DELETE FROM audit_log",
            "TRUNCATE audit_log",
            "DELETE FROM audit_checkpoints",
        ):
            with pytest.raises(asyncpg.RaiseError, match="append-only"):
                await conn.execute(statement)
    finally:
        await conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
        await conn.close()
