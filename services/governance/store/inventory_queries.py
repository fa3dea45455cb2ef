"""Read side of the inventory: models, their versions, open reviews, cards, the champion."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from services.governance.inventory.card import CardFacts
from services.governance.inventory.serving import serving_versions
from services.governance.policy.evaluate import Champion
from services.governance.store.audit_log import record_of
from shared.errors import NotFound
from shared.events.governance import Decision
from shared.events.registry import ModelRegistered
from shared.store.db import Connection

# One word for a model (``status``): serving beats in review beats its latest version's.
_MODELS = """
SELECT * FROM (
SELECT m.*, latest.version AS latest_version, reviews.open AS open_reviews,
       CASE WHEN m.serving <> '{}'::jsonb THEN 'serving'
            WHEN reviews.open <> '{}' THEN 'in_review'
            ELSE coalesce(latest.status, 'unregistered') END AS status
FROM models m
LEFT JOIN LATERAL (SELECT v.version, v.status FROM versions v WHERE v.model_name = m.name
                   ORDER BY v.version DESC LIMIT 1) AS latest ON true
CROSS JOIN LATERAL (SELECT coalesce(array_agg(r.version ORDER BY r.version), '{}') AS open
                    FROM reviews r WHERE r.model_name = m.name AND r.status = 'open') AS reviews
) m
"""


@dataclass(frozen=True)
class InventoryQuery:
    """One page of the inventory, in name order: models after ``after`` matching every
    filter given (``name`` is a part of the name, the others are equalities)."""

    limit: int
    after: str | None = None
    name: str | None = None
    team: str | None = None
    risk_tier: str | None = None
    status: str | None = None


async def champion(conn: Connection, model: str, excluding: int) -> Champion | None:
    """The version governance last approved for ``model`` and has not suspended or retired."""
    row = await conn.fetchrow(
        "SELECT version, registration -> 'metrics' AS metrics FROM versions"
        " WHERE model_name = $1 AND status = 'approved' AND version <> $2"
        " ORDER BY approved_at DESC, version DESC LIMIT 1",
        model,
        excluding,
    )
    return Champion(row["version"], json.loads(row["metrics"])) if row else None


def _entry(row: Any) -> dict[str, Any]:
    serving = serving_versions(json.loads(row["serving"]))
    return {
        "name": row["name"],
        "owner": row["owner"],
        "team": row["team"],
        "risk_tier": row["risk_tier"],
        "task": row["task"],
        "status": row["status"],
        "latest_version": row["latest_version"],
        "serving": serving,
        "open_reviews": list(row["open_reviews"]),
        "last_drift": json.loads(row["last_drift"]) if row["last_drift"] else None,
        "last_approval": json.loads(row["last_approval"]) if row["last_approval"] else None,
    }


async def inventory(conn: Connection, query: InventoryQuery) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        _MODELS + " WHERE ($1::text IS NULL OR m.name > $1)"
        " AND ($2::text IS NULL OR strpos(m.name, $2) > 0)"
        " AND ($3::text IS NULL OR m.team = $3)"
        " AND ($4::text IS NULL OR m.risk_tier = $4)"
        " AND ($5::text IS NULL OR m.status = $5)"
        " ORDER BY m.name LIMIT $6",
        query.after,
        query.name,
        query.team,
        query.risk_tier,
        query.status,
        query.limit,
    )
    return [_entry(r) for r in rows]


async def facets(conn: Connection) -> dict[str, list[str]]:
    """Every team, risk tier and status the inventory holds: what its filters can ask for."""
    row = await conn.fetchrow(
        "SELECT array_agg(DISTINCT team) FILTER (WHERE team IS NOT NULL) AS teams,"
        " array_agg(DISTINCT risk_tier) FILTER (WHERE risk_tier IS NOT NULL) AS risk_tiers,"
        " array_agg(DISTINCT status) AS statuses FROM (" + _MODELS + ") AS inventory"
    )
    assert row is not None  # an aggregate always has its one row
    return {key: sorted(row[key] or []) for key in ("teams", "risk_tiers", "statuses")}


async def model_detail(conn: Connection, model: str) -> dict[str, Any]:
    row = await conn.fetchrow(_MODELS + " WHERE m.name = $1", model)
    if row is None:
        raise NotFound(f"governance knows no model named {model!r}")
    versions = await conn.fetch(
        "SELECT version, status, status_reason, registered_at, decided_at,"
        " registration -> 'metrics' AS metrics, decision -> 'checks' AS checks"
        " FROM versions WHERE model_name = $1"
        " ORDER BY version",
        model,
    )
    return {
        **_entry(row),
        "versions": [
            {
                "version": v["version"],
                "status": v["status"],
                "reason": v["status_reason"],
                "registered_at": v["registered_at"].isoformat(),
                "decided_at": v["decided_at"].isoformat() if v["decided_at"] else None,
                "metrics": json.loads(v["metrics"]),
                "checks": json.loads(v["checks"]) if v["checks"] else [],
            }
            for v in versions
        ],
    }


async def open_reviews(conn: Connection) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        "SELECT r.model_name, r.version, r.required_approvals, r.requested_at,"
        " v.registration -> 'metadata' ->> 'owner' AS owner,"
        " v.registration -> 'metadata' ->> 'risk_tier' AS risk_tier,"
        " v.registration ->> 'registered_by' AS registered_by,"
        " v.registration ->> 'requested_by' AS requested_by,"
        " v.decision -> 'checks' AS checks,"
        " coalesce((SELECT array_agg(a.approver ORDER BY a.approved_at) FROM approvals a"
        "   WHERE a.model_name = r.model_name AND a.version = r.version), '{}') AS approvers"
        " FROM reviews r JOIN versions v USING (model_name, version)"
        " WHERE r.status = 'open' ORDER BY r.requested_at"
    )
    return [
        {
            "model_name": r["model_name"],
            "version": r["version"],
            "owner": r["owner"],
            "risk_tier": r["risk_tier"],
            "registered_by": r["registered_by"],
            "requested_by": r["requested_by"],
            "checks": json.loads(r["checks"]) if r["checks"] else [],
            "required_approvals": r["required_approvals"],
            "approvers": list(r["approvers"]),
            "requested_at": r["requested_at"].isoformat(),
        }
        for r in rows
    ]


async def card_facts(conn: Connection, model: str, version: int) -> CardFacts:
    row = await conn.fetchrow(
        "SELECT status, status_reason, registration, decision FROM versions"
        " WHERE model_name = $1 AND version = $2",
        model,
        version,
    )
    if row is None:
        raise NotFound(f"governance knows no version {version} of {model!r}")
    history = await conn.fetch(
        "SELECT * FROM audit_log WHERE model_name = $1 AND version = $2 ORDER BY model_seq",
        model,
        version,
    )
    return CardFacts(
        registration=ModelRegistered.model_validate_json(row["registration"]),
        status=row["status"],
        status_reason=row["status_reason"],
        decision=Decision.model_validate_json(row["decision"]) if row["decision"] else None,
        history=[record_of(r) for r in history],
    )
