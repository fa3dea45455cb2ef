"""From an approval to a serving version: record the wish, then activate it (or fail it) once.

An approval is recorded as a ``pending`` version. Every replica loads pending versions; the
first replica whose load succeeds activates the version (moves the route, emits
``model.deployed``), the first whose load fails for good marks it ``failed`` (emits
``deployment.failed``). The others find the version no longer pending and do nothing, so
each outcome is recorded and announced exactly once whatever the number of replicas.
"""

from __future__ import annotations

import dataclasses
from typing import Literal

import orjson
import structlog

from services.deployer.runtime.model_build import FailureStage
from services.deployer.store.desired_state import VersionRecord
from services.deployer.store.registrations import (
    AWAITING,
    lock_version,
    mismatch,
    registration,
)
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
    uow: UnitOfWork, approved: ModelApproved, *, event_id: str, govseq: int
) -> str | None:
    """Record an approval; the status it was recorded with, or ``None`` if nothing changed.

    ``pending`` (to load, with the registered artifact), ``awaiting_registration`` (the
    registry's ``model.registered`` has not arrived), or ``failed`` (the approved digest is
    not the registered one: ``deployment.failed`` is emitted). Idempotent across replicas:
    the approval's event id is stored, and a row is only rewritten by a different approval
    with a higher ``govseq`` of a version that is not serving. An approval older in
    governance's sequence than the version's latest suspension or retirement is ignored.
    """
    conn = uow.conn
    await lock_version(conn, approved.model_name, approved.version)
    registered = await registration(conn, approved.model_name, approved.version)
    refused = mismatch(approved.artifact, registered) if registered is not None else None
    if registered is None:
        status, artifact = AWAITING, approved.artifact
    else:
        status, artifact = ("failed" if refused else "pending"), registered.artifact
    row = await conn.fetchrow(
        "INSERT INTO versions AS v (model_name, version, approval_id, approved_at,"
        " approval_govseq, artifact, strategy, redact_fields, status, reason)"
        " SELECT $1, $2, $3, now(), $4, $5, $6, $7, $8, $9 WHERE NOT EXISTS ("
        "  SELECT 1 FROM withdrawals w WHERE w.model_name = $1 AND w.version = $2"
        "  AND w.govseq > $4)"
        " ON CONFLICT (model_name, version) DO UPDATE SET approval_id = EXCLUDED.approval_id,"
        " approved_at = EXCLUDED.approved_at, approval_govseq = EXCLUDED.approval_govseq,"
        " approval_seq = nextval('approval_seq'), artifact = EXCLUDED.artifact,"
        " strategy = EXCLUDED.strategy, redact_fields = EXCLUDED.redact_fields,"
        " status = EXCLUDED.status, reason = EXCLUDED.reason, updated_at = now()"
        " WHERE v.approval_id <> EXCLUDED.approval_id"
        " AND v.approval_govseq < EXCLUDED.approval_govseq"
        " AND v.status NOT IN ('pending', 'active', 'awaiting_registration')"
        " RETURNING status",
        approved.model_name,
        approved.version,
        event_id,
        govseq,
        orjson.dumps(artifact.model_dump(mode="json")).decode(),
        orjson.dumps(approved.decision.strategy.model_dump(mode="json")).decode(),
        list(approved.metadata.redact_fields),
        status,
        refused,
    )
    if row is None:
        return None
    if refused is not None:
        await refuse(uow, approved.model_name, approved.version, refused)
    return str(row["status"])


async def refuse(uow: UnitOfWork, model: str, version: int, reason: str) -> None:
    """Announce that an approved version will not be loaded, and why."""
    route = await lock_route(uow.conn, model)
    await uow.emit(
        DeploymentFailed(
            model_name=model,
            version=version,
            stage="verify",
            reason=reason,
            still_serving=route.stable_version if route is not None else None,
        )
    )
    log.warning("deployment.refused", model=model, version=version, reason=reason)


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
