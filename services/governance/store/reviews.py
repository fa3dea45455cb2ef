"""What a person's decision reads and writes: the version as it stands, and its approvals.

Callers hold the audit chain head (:meth:`AuditLog.lock`) before calling, so what they read
here cannot change under them until they commit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from shared.events.governance import Decision
from shared.events.registry import ModelRegistered
from shared.store.db import Connection


@dataclass(frozen=True)
class Review:
    status: str  # "open" while people decide, then "approved" or "rejected"
    required_approvals: int
    pending: Decision  # the policy's decision that asked for people, approvers still empty


@dataclass(frozen=True)
class VersionUnderDecision:
    status: str
    registration: ModelRegistered
    correlation_id: str  # the registration's chain, which every decision continues
    review: Review | None  # None: the policy decided alone


@dataclass(frozen=True)
class GivenApproval:
    approver: str
    comment: str


async def version_under_decision(
    conn: Connection, model: str, version: int
) -> VersionUnderDecision | None:
    row = await conn.fetchrow(
        "SELECT v.status, v.registration, v.correlation_id, r.status AS review,"
        " r.required_approvals, r.decision AS pending FROM versions v"
        " LEFT JOIN reviews r USING (model_name, version)"
        " WHERE v.model_name = $1 AND v.version = $2",
        model,
        version,
    )
    if row is None:
        return None
    return VersionUnderDecision(
        status=row["status"],
        registration=ModelRegistered.model_validate_json(row["registration"]),
        correlation_id=row["correlation_id"],
        review=Review(
            row["review"], row["required_approvals"], Decision.model_validate_json(row["pending"])
        )
        if row["review"]
        else None,
    )


async def add_approval(
    conn: Connection, model: str, version: int, approval: GivenApproval, at: datetime
) -> None:
    """Count ``approval`` once: a second approval by the same person changes nothing."""
    await conn.execute(
        "INSERT INTO approvals (model_name, version, approver, comment, approved_at)"
        " VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
        model,
        version,
        approval.approver,
        approval.comment,
        at,
    )


async def approvals(conn: Connection, model: str, version: int) -> list[GivenApproval]:
    rows = await conn.fetch(
        "SELECT approver, comment FROM approvals WHERE model_name = $1 AND version = $2"
        " ORDER BY approved_at, approver",
        model,
        version,
    )
    return [GivenApproval(r["approver"], r["comment"]) for r in rows]


async def version_status(conn: Connection, model: str, version: int) -> str | None:
    status: str | None = await conn.fetchval(
        "SELECT status FROM versions WHERE model_name = $1 AND version = $2", model, version
    )
    return status
