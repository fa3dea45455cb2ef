"""Read side of the audit trail: records in chain order, and what held at a moment."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from services.governance.inventory.serving import (
    APPROVAL_ACTIONS,
    SERVING_ACTIONS,
    approved_after,
    serving_after,
    serving_versions,
)
from services.governance.store.audit_log import record_of
from shared.store.db import Connection


async def audit_records(
    conn: Connection,
    *,
    model: str | None = None,
    version: int | None = None,
    limit: int | None = None,
    action: str | None = None,
    correlation_id: str | None = None,
) -> list[dict[str, Any]]:
    """Audit records in chain order; with ``limit``, the latest ``limit`` of them; only
    those of ``action`` (a topic such as ``model.promoted``) or of one correlation chain
    when asked."""
    rows = await conn.fetch(
        "SELECT * FROM (SELECT * FROM audit_log"
        " WHERE ($1::text IS NULL OR model_name = $1) AND ($2::int IS NULL OR version = $2)"
        " AND ($4::text IS NULL OR action = $4) AND ($5::text IS NULL OR correlation_id = $5)"
        " ORDER BY seq DESC LIMIT $3) AS latest ORDER BY seq",
        model,
        version,
        limit,
        action,
        correlation_id,
    )
    return [record_of(r).model_dump(mode="json") for r in rows]


async def as_of(conn: Connection, moment: datetime, model: str | None) -> dict[str, Any]:
    """What was approved and what was serving at ``moment``, per model, from the trail."""
    rows = await conn.fetch(
        "SELECT model_name, action, version, summary FROM audit_log"
        " WHERE time <= $1 AND action = ANY($2::text[]) AND ($3::text IS NULL OR model_name = $3)"
        " ORDER BY model_name, model_seq",
        moment,
        sorted(SERVING_ACTIONS | APPROVAL_ACTIONS),
        model,
    )
    by_model: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        by_model.setdefault(r["model_name"], []).append(
            {"action": r["action"], "version": r["version"], "summary": json.loads(r["summary"])}
        )
    return {
        "time": moment.isoformat(),
        "models": {
            name: {
                "approved": approved_after(records),
                "serving": serving_versions(serving_after(records)),
            }
            for name, records in by_model.items()
        },
    }
