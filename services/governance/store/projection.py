"""Keeping the inventory current from lifecycle events, governance's own decisions included.

Called once per event, right after the event was appended to the audit log (the log's
unique event id makes it once), inside the same transaction. Every statement is also
harmless when repeated, so a replay into a fresh schema builds the same inventory.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from services.governance.audit.describe import describe, multivariate_summary
from services.governance.inventory.serving import next_serving
from shared.events.common import Payload
from shared.events.deployment import ModelDeployed, ModelPromoted, ModelRolledBack
from shared.events.envelope import Event
from shared.events.governance import (
    ModelApproved,
    ModelRejected,
    ModelRetired,
    ModelSuspended,
    ReviewRequested,
)
from shared.events.monitoring import DriftDetected
from shared.events.registry import ModelRegistered
from shared.store.db import Connection


async def project(conn: Connection, event: Event[Payload]) -> None:
    data, at = event.data, event.time
    await conn.execute(
        "INSERT INTO models (name, first_seen, updated_at) VALUES ($1, $2, $2)"
        " ON CONFLICT (name) DO UPDATE SET updated_at = greatest(models.updated_at, $2)",
        event.key,
        at,
    )
    match data:
        case ModelRegistered():
            await _registered(conn, data, event.correlationid, at)
        case ReviewRequested():
            await _review_requested(conn, data, at)
        case ModelApproved():
            await _decided(conn, data.model_name, data.version, "approved", data.decision, at)
            await conn.execute(
                "UPDATE models SET last_approval = $2 WHERE name = $1",
                data.model_name,
                json.dumps(
                    {
                        "version": data.version,
                        "time": at.isoformat(),
                        "approvers": data.decision.approvers,
                        "policy": data.decision.policy,
                    }
                ),
            )
        case ModelRejected():
            await _decided(
                conn,
                data.model_name,
                data.version,
                "rejected",
                data.decision,
                at,
                reason=data.comment or ", ".join(data.failed_checks),
            )
        case ModelSuspended() | ModelRetired():
            status = "suspended" if isinstance(data, ModelSuspended) else "retired"
            await conn.execute(
                "UPDATE versions SET status = $3, status_reason = $4"
                " WHERE model_name = $1 AND version = $2",
                data.model_name,
                data.version,
                status,
                data.reason,
            )
            await _serving(conn, event)
        case ModelDeployed() | ModelPromoted() | ModelRolledBack():
            await _serving(conn, event)
        case DriftDetected():
            await conn.execute(
                "UPDATE models SET last_drift = $2 WHERE name = $1",
                data.model_name,
                json.dumps(
                    {
                        "version": data.version,
                        "time": at.isoformat(),
                        "alert_id": data.alert_id,
                        "arm": data.arm,
                        "top_features": data.top_features,
                        # The features together may drift with no single one drifted.
                        "multivariate": multivariate_summary(data.multivariate),
                    }
                ),
            )


async def _registered(
    conn: Connection, data: ModelRegistered, correlation_id: str, at: datetime
) -> None:
    meta = data.metadata
    await conn.execute(
        "UPDATE models SET owner = $2, team = $3, risk_tier = $4, task = $5, description = $6"
        " WHERE name = $1",
        data.model_name,
        meta.owner,
        meta.team,
        meta.risk_tier,
        data.task,
        meta.description,
    )
    await conn.execute(
        "INSERT INTO versions (model_name, version, status, registration, correlation_id,"
        " registered_at) VALUES ($1, $2, 'registered', $3, $4, $5) ON CONFLICT DO NOTHING",
        data.model_name,
        data.version,
        data.model_dump_json(),
        correlation_id,
        at,
    )


async def _review_requested(conn: Connection, data: ReviewRequested, at: datetime) -> None:
    await conn.execute(
        "UPDATE versions SET status = 'in_review', decision = $3"
        " WHERE model_name = $1 AND version = $2 AND status = 'registered'",
        data.model_name,
        data.version,
        data.decision.model_dump_json(),
    )
    await conn.execute(
        "INSERT INTO reviews (model_name, version, required_approvals, decision, status,"
        " requested_at) SELECT $1, $2, $3, $4, 'open', $5 FROM versions"
        " WHERE model_name = $1 AND version = $2 ON CONFLICT DO NOTHING",
        data.model_name,
        data.version,
        data.required_approvals,
        data.decision.model_dump_json(),
        at,
    )


async def _decided(
    conn: Connection,
    model: str,
    version: int,
    status: str,
    decision: Any,
    at: datetime,
    reason: str | None = None,
) -> None:
    await conn.execute(
        "UPDATE versions SET status = $3, decision = $4, decided_at = $5, status_reason = $6,"
        " approved_at = CASE WHEN $3 = 'approved' THEN $5 ELSE approved_at END"
        " WHERE model_name = $1 AND version = $2",
        model,
        version,
        status,
        decision.model_dump_json(),
        at,
        reason,
    )
    await conn.execute(
        "UPDATE reviews SET status = $3, closed_at = $4"
        " WHERE model_name = $1 AND version = $2 AND status = 'open'",
        model,
        version,
        status,
        at,
    )


async def _serving(conn: Connection, event: Event[Payload]) -> None:
    about = describe(event)
    current = await conn.fetchval("SELECT serving FROM models WHERE name = $1", event.key)
    state = next_serving(json.loads(current), about.action, about.version, about.summary)
    await conn.execute(
        "UPDATE models SET serving = $2 WHERE name = $1", event.key, json.dumps(state)
    )
