"""Aliases (``champion``, ``challenger``, any name): where they point, and every move.

Moves of one model's aliases are serialised by the model's row lock (the same lock that
numbers versions), and each is stamped with ``clock_timestamp()`` taken under that lock,
so the history's times follow the order of the moves. "Which version did alias X point to
at time T" is the last history row at or before T (a row with no version: deleted).
Setting an alias to the version it already names changes nothing and adds no history.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from services.registry.store import versions
from shared.errors import NotFound
from shared.store.db import Connection


async def set_alias(
    conn: Connection, name: str, alias: str, version: int, actor: str
) -> dict[str, Any]:
    """Point ``alias`` at ``version``; call inside a transaction."""
    latest = await versions.lock_existing_model(conn, name)
    if not 1 <= version <= latest:
        raise NotFound(f"model {name!r} has no version {version}")
    row = await conn.fetchrow(
        "SELECT version, since FROM aliases WHERE model_name = $1 AND alias = $2", name, alias
    )
    if row is not None and row["version"] == version:
        return _state(name, alias, version, row["since"])
    since = await conn.fetchval("SELECT clock_timestamp()")
    await conn.execute(
        "INSERT INTO aliases (model_name, alias, version, since) VALUES ($1, $2, $3, $4)"
        " ON CONFLICT (model_name, alias) DO UPDATE"
        " SET version = EXCLUDED.version, since = EXCLUDED.since",
        name, alias, version, since,
    )  # fmt: skip
    await _remember(conn, name, alias, version, since, actor)
    return _state(name, alias, version, since)


async def delete_alias(conn: Connection, name: str, alias: str, actor: str) -> None:
    """Remove ``alias``; call inside a transaction."""
    await versions.lock_existing_model(conn, name)
    deleted = await conn.fetchval(
        "DELETE FROM aliases WHERE model_name = $1 AND alias = $2 RETURNING true", name, alias
    )
    if not deleted:
        raise NotFound(f"model {name!r} has no alias {alias!r}")
    since = await conn.fetchval("SELECT clock_timestamp()")
    await _remember(conn, name, alias, None, since, actor)


async def current_aliases(conn: Connection, name: str) -> dict[str, int]:
    rows = await conn.fetch(
        "SELECT alias, version FROM aliases WHERE model_name = $1 ORDER BY alias", name
    )
    return {row["alias"]: row["version"] for row in rows}


async def resolve(
    conn: Connection, name: str, alias: str, at: datetime | None = None
) -> dict[str, Any]:
    """Where ``alias`` points now, or pointed at ``at``; NotFound if it pointed nowhere."""
    if at is None:
        row = await conn.fetchrow(
            "SELECT version, since AS at FROM aliases WHERE model_name = $1 AND alias = $2",
            name,
            alias,
        )
    else:
        row = await conn.fetchrow(
            "SELECT version, at FROM alias_history WHERE model_name = $1 AND alias = $2"
            " AND at <= $3 ORDER BY at DESC, id DESC LIMIT 1",
            name,
            alias,
            at,
        )
    if row is None or row["version"] is None:
        when = "now" if at is None else f"at {at.isoformat()}"
        raise NotFound(f"alias {alias!r} of model {name!r} pointed to no version {when}")
    return {**_state(name, alias, row["version"], row["at"]), "at": at}


async def alias_history(conn: Connection, name: str, alias: str) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        "SELECT version, at, actor FROM alias_history WHERE model_name = $1 AND alias = $2"
        " ORDER BY at, id",
        name,
        alias,
    )
    return [dict(row) for row in rows]


async def _remember(
    conn: Connection, name: str, alias: str, version: int | None, at: datetime, actor: str
) -> None:
    await conn.execute(
        "INSERT INTO alias_history (model_name, alias, version, at, actor)"
        " VALUES ($1, $2, $3, $4, $5)",
        name, alias, version, at, actor,
    )  # fmt: skip


def _state(name: str, alias: str, version: int, since: datetime) -> dict[str, Any]:
    return {"model_name": name, "alias": alias, "version": version, "since": since}
