"""From an approval to a serving version: record the wish, then activate it (or fail it) once.

An approval is recorded as a ``pending`` version. Every replica loads pending versions; the
first replica whose load succeeds activates the version (moves the route, emits
``model.deployed``), the first whose load fails for good marks it ``failed`` (emits
``deployment.failed``). The others find the version no longer pending and do nothing, so
each outcome is recorded and announced exactly once whatever the number of replicas.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Literal

import orjson
import structlog

from services.deployer.runtime.model_build import FailureStage
from services.deployer.store.desired_state import VersionRecord
from services.deployer.store.rows import (
    get_version,
    is_active,
    lock_route,
    save_route,
    set_status,
    without_candidate,
)
from shared.bus.unit_of_work import UnitOfWork
from shared.events.common import Arm
from shared.events.deployment import DeploymentFailed, ModelDeployed
from shared.events.governance import ModelApproved

log = structlog.get_logger(__name__)

Activation = Literal["activated", "superseded", "not_pending"]


async def record_approval(
    uow: UnitOfWork, approved: ModelApproved, *, event_id: str, event_time: datetime
) -> bool:
    """Record an approval as a pending version; True if this call recorded it.

    Idempotent across replicas: the approval's event id is stored, and the row is only
    (re)written when it comes from a different approval of a version that is not serving.
    """
    row = await uow.conn.fetchrow(
        "INSERT INTO versions AS v (model_name, version, approval_id, approved_at, artifact,"
        " strategy, redact_fields) VALUES ($1, $2, $3, $4, $5, $6, $7)"
        " ON CONFLICT (model_name, version) DO UPDATE SET approval_id = EXCLUDED.approval_id,"
        " approved_at = EXCLUDED.approved_at, approval_seq = nextval('approval_seq'),"
        " artifact = EXCLUDED.artifact, strategy = EXCLUDED.strategy,"
        " redact_fields = EXCLUDED.redact_fields, status = 'pending', reason = NULL,"
        " updated_at = now()"
        " WHERE v.approval_id <> EXCLUDED.approval_id AND v.approved_at < EXCLUDED.approved_at"
        " AND v.status NOT IN ('pending', 'active')"
        " RETURNING version",
        approved.model_name,
        approved.version,
        event_id,
        event_time,
        orjson.dumps(approved.artifact.model_dump(mode="json")).decode(),
        orjson.dumps(approved.decision.strategy.model_dump(mode="json")).decode(),
        list(approved.metadata.redact_fields),
    )
    return row is not None


async def activate(uow: UnitOfWork, pending: VersionRecord, *, replica: str) -> Activation:
    """Put a loaded pending version into its route, as its strategy says; emit model.deployed."""
    conn = uow.conn
    route = await lock_route(conn, pending.model_name, create=True)
    assert route is not None
    current = await get_version(conn, pending.model_name, pending.version)
    if current is None or current.status != "pending" or current.approval_id != pending.approval_id:
        return "not_pending"
    if route.last_seq > current.approval_seq:
        # A later approval is already serving: this one arrived (or loaded) too late.
        await set_status(
            conn,
            route.model_name,
            current.version,
            "superseded",
            "a later approval was activated first",
        )
        return "superseded"
    strategy = current.strategy
    stable_serves = await is_active(conn, route.model_name, route.stable_version)
    await set_status(
        conn,
        route.model_name,
        route.candidate_version,
        "superseded",
        f"replaced by version {current.version}",
    )
    route = without_candidate(route)
    if strategy.kind == "replace" or not stable_serves:
        if stable_serves:
            await set_status(
                conn,
                route.model_name,
                route.stable_version,
                "superseded",
                f"replaced by version {current.version}",
            )
            route = dataclasses.replace(route, previous_version=route.stable_version)
        route = dataclasses.replace(route, stable_version=current.version)
        arm: Arm = "stable"
        weight = 1.0
    else:
        weight = strategy.canary_weight if strategy.kind == "canary" else 0.0
        route = dataclasses.replace(
            route,
            candidate_version=current.version,
            candidate_mode=strategy.kind,
            canary_weight=weight,
            sticky_header=strategy.sticky_header,
        )
        arm = strategy.kind
    await set_status(conn, route.model_name, current.version, "active")
    await save_route(conn, dataclasses.replace(route, last_seq=current.approval_seq))
    await uow.emit(
        ModelDeployed(
            model_name=route.model_name,
            version=current.version,
            arm=arm,
            strategy=strategy,
            weight=weight,
            replica=replica,
        )
    )
    log.info("deployment.activated", model=route.model_name, version=current.version, arm=arm)
    return "activated"


async def fail(
    uow: UnitOfWork, pending: VersionRecord, *, stage: FailureStage, reason: str
) -> bool:
    """Mark a pending version failed and emit deployment.failed; True if this call did it."""
    conn = uow.conn
    route = await lock_route(conn, pending.model_name, create=True)
    assert route is not None
    changed = await conn.fetchval(
        "UPDATE versions SET status = 'failed', reason = $4, updated_at = now()"
        " WHERE model_name = $1 AND version = $2 AND approval_id = $3 AND status = 'pending'"
        " RETURNING true",
        pending.model_name,
        pending.version,
        pending.approval_id,
        f"{stage}: {reason}",
    )
    if not changed:
        return False
    await uow.emit(
        DeploymentFailed(
            model_name=pending.model_name,
            version=pending.version,
            stage=stage,
            reason=reason[:2000],
            still_serving=route.stable_version,
        )
    )
    log.warning(
        "deployment.failed",
        model=pending.model_name,
        version=pending.version,
        stage=stage,
        reason=reason[:500],
    )
    return True
