"""Reading the registry by model: search, one model's summary, and comparing two versions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from services.registry.domain import comparison
from services.registry.store import aliases, lifecycle, versions
from shared.errors import NotFound
from shared.store.db import Connection


@dataclass(frozen=True)
class ModelQuery:
    """Search filters; a model matches when one of its versions matches all of them."""

    name: str | None = None  # substring of the model name
    tag: str | None = None  # "key" (has the tag) or "key=value"
    owner: str | None = None
    status: str | None = None  # lifecycle status, e.g. serving, approved, registered
    limit: int = 100


_SUMMARY = """
SELECT m.name, m.latest_version, m.created_at, m.updated_at, v.payload -> 'metadata' AS metadata
FROM models m
JOIN versions v ON v.model_name = m.name AND v.version = m.latest_version
"""


def _summary(row: Any) -> dict[str, Any]:
    return {
        "name": row["name"],
        "latest_version": row["latest_version"],
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
        "metadata": orjson.loads(row["metadata"]),
    }


async def search(conn: Connection, query: ModelQuery) -> list[dict[str, Any]]:
    tag_key, _, tag_value = (query.tag or "").partition("=")
    rows = await conn.fetch(
        _SUMMARY + """
        WHERE ($1::text IS NULL OR strpos(m.name, $1) > 0)
          AND EXISTS (
            SELECT 1 FROM versions x
            LEFT JOIN lifecycle_status s ON s.model_name = x.model_name AND s.version = x.version
            WHERE x.model_name = m.name
              AND ($2::text = '' OR x.payload -> 'metadata' -> 'tags' ? $2)
              AND ($3::text = '' OR x.payload -> 'metadata' -> 'tags' ->> $2 = $3)
              AND ($4::text IS NULL OR x.owner = $4)
              AND ($5::text IS NULL OR COALESCE(s.status, 'registered') = $5))
        ORDER BY m.name LIMIT $6
        """,
        query.name, tag_key, tag_value, query.owner, query.status, query.limit,
    )  # fmt: skip
    return [_summary(row) for row in rows]


async def get_model(conn: Connection, name: str) -> dict[str, Any]:
    """The model with its latest metadata, aliases, serving version and versions in brief."""
    row = await conn.fetchrow(_SUMMARY + " WHERE m.name = $1", name)
    if row is None:
        raise NotFound(f"model {name!r} is not registered")
    serving = await lifecycle.serving_at(conn, name, datetime.now(UTC))
    brief = [
        {k: v[k] for k in ("version", "status", "registered_at", "source", "aliases")}
        for v in await versions.list_versions(conn, name)
    ]
    return {
        **_summary(row),
        "aliases": await aliases.current_aliases(conn, name),
        "serving_version": serving["version"],
        "versions": brief,
    }


async def compare(conn: Connection, name: str, a: int, b: int) -> dict[str, Any]:
    """Versions ``a`` and ``b`` side by side (:func:`comparison.compare`)."""
    left = await versions.get_registered(conn, name, a)
    right = await versions.get_registered(conn, name, b)
    return comparison.compare(left, right)
