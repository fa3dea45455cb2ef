"""Promotion, rollback and the kill switch: route transitions taken once, each with its event.

All three lock the route row first and check the transition still applies, so a decision
taken by several replicas at once (automatic evidence, a drift alert every replica
consumes, a retried HTTP call) changes the route and emits its event exactly once; the
later callers get ``changed=False`` and a message saying what already happened.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog

from services.deployer.store.desired_state import RouteRecord
from services.deployer.store.rows import (
    get_version,
    latest_superseded,
    lock_route,
    save_route,
    set_status,
    without_candidate,
)
from shared.bus.unit_of_work import UnitOfWork
from shared.errors import Conflict, NotFound
from shared.events.deployment import ModelPromoted, ModelRolledBack

log = structlog.get_logger(__name__)


# Events come from other hosts' clocks. A kill switch must never be lost to skew, so an
# event counts as older than an approval only by more than this.
CLOCK_SKEW = timedelta(seconds=60)


@dataclass(frozen=True)
class Outcome:
    changed: bool
    message: str
    route: RouteRecord


# promote or rollback: both take (uow, model_name, *, version, reason, actor, evidence).
Transition = Callable[..., Awaitable[Outcome]]


async def _route(uow: UnitOfWork, model_name: str) -> RouteRecord:
    route = await lock_route(uow.conn, model_name)
    if route is None:
        raise NotFound(f"model {model_name!r} has no deployment")
    return route


async def promote(
    uow: UnitOfWork,
    model_name: str,
    *,
    version: int | None,
    reason: str,
    actor: str,
    evidence: dict[str, float] | None = None,
) -> Outcome:
    """Make the candidate (``version``, if given) the stable version."""
    route = await _route(uow, model_name)
    candidate = route.candidate_version
    if candidate is None or (version is not None and version != candidate):
        if version is not None and version == route.stable_version:
            return Outcome(False, f"version {version} is already the stable version", route)
        raise Conflict(
            f"model {model_name!r} has no candidate"
            + (f" version {version}" if version is not None else "")
            + " to promote"
        )
    previous = route.stable_version
    await set_status(
        uow.conn, model_name, previous, "superseded", f"version {candidate} was promoted"
    )
    route = await save_route(
        uow.conn,
        dataclasses.replace(
            without_candidate(route),
            stable_version=candidate,
            previous_version=previous if previous is not None else route.previous_version,
        ),
    )
    await uow.emit(
        ModelPromoted(
            model_name=model_name,
            version=candidate,
            previous_version=previous,
            reason=reason,
            evidence=evidence or {},
            actor=actor,
        )
    )
    log.info("deployment.promoted", model=model_name, version=candidate, reason=reason)
    return Outcome(True, f"version {candidate} promoted to stable", route)


async def rollback(
    uow: UnitOfWork,
    model_name: str,
    *,
    version: int | None,
    reason: str,
    actor: str,
    evidence: dict[str, float] | None = None,
    candidate_only: bool = False,
    not_before: datetime | None = None,
) -> Outcome:
    """Take the candidate out of service or, without one, restore the previous stable version.

    ``version`` names what to take out; a version already rolled back is a no-op.
    ``candidate_only`` (automatic decisions) never touches the stable version, and
    ``not_before`` ignores evidence older than the candidate's approval (see
    :data:`CLOCK_SKEW`).
    """
    route = await _route(uow, model_name)
    if candidate_only and (route.candidate_version is None or route.candidate_version != version):
        return Outcome(False, f"version {version} is not the candidate of {model_name!r}", route)
    if candidate_only and not_before is not None and version is not None:
        record = await get_version(uow.conn, model_name, version)
        if record is None or record.approved_at > not_before + CLOCK_SKEW:
            return Outcome(False, "the evidence predates this approval", route)
    if route.candidate_version is not None and version in (None, route.candidate_version):
        removed, restored = route.candidate_version, route.stable_version
        route = without_candidate(route)
    elif route.stable_version is not None and version in (None, route.stable_version):
        removed, restored = route.stable_version, route.previous_version
        if restored is None:
            raise Conflict(f"model {model_name!r} has no previous version to roll back to")
        await set_status(uow.conn, model_name, restored, "active")
        route = dataclasses.replace(
            route,
            stable_version=restored,
            previous_version=await latest_superseded(uow.conn, model_name, excluding=restored),
        )
    else:
        record = await get_version(uow.conn, model_name, version) if version is not None else None
        if record is not None and record.status == "rolled_back":
            return Outcome(False, f"version {version} was already rolled back", route)
        raise Conflict(f"version {version} of {model_name!r} is not serving")
    await set_status(uow.conn, model_name, removed, "rolled_back", reason)
    route = await save_route(uow.conn, route)
    await uow.emit(
        ModelRolledBack(
            model_name=model_name,
            version=removed,
            restored_version=restored,
            reason=reason,
            evidence=evidence or {},
            actor=actor,
        )
    )
    log.info(
        "deployment.rolled_back",
        model=model_name,
        version=removed,
        restored=restored,
        reason=reason,
    )
    return Outcome(True, f"version {removed} rolled back; version {restored} serves", route)


async def stop_serving(
    uow: UnitOfWork,
    model_name: str,
    version: int,
    *,
    status: str,
    reason: str,
    govseq: int,
) -> bool:
    """Kill switch (``suspended``) or retirement: the version stops answering traffic.

    A stopped candidate leaves its route, so the stable version takes all traffic; a stopped
    stable version stays named by the route so callers get a clear 503 instead of a 404
    (other versions are unaffected, nothing unproven is promoted in its place).

    Precedence is governance's sequence: the withdrawal is remembered with its ``govseq``
    even when no approval has arrived yet (it may come later on its own topic), so an
    approval numbered before it never serves; an approval numbered after it (a re-approval)
    is not undone by it. The event's ``time`` plays no part.
    """
    route = await lock_route(uow.conn, model_name)
    await uow.conn.execute(
        "INSERT INTO withdrawals AS w (model_name, version, govseq, status)"
        " VALUES ($1, $2, $3, $4) ON CONFLICT (model_name, version) DO UPDATE"
        " SET govseq = EXCLUDED.govseq, status = EXCLUDED.status WHERE w.govseq < EXCLUDED.govseq",
        model_name,
        version,
        govseq,
        status,
    )
    changed = await uow.conn.fetchval(
        "UPDATE versions SET status = $3, reason = $4, updated_at = now()"
        " WHERE model_name = $1 AND version = $2 AND approval_govseq < $5"
        " AND status NOT IN ('suspended', 'retired') RETURNING true",
        model_name,
        version,
        status,
        reason,
        govseq,
    )
    if not changed:
        return False
    if route is not None:
        if route.candidate_version == version:
            route = without_candidate(route)
        if route.previous_version == version:
            route = dataclasses.replace(route, previous_version=None)
        await save_route(uow.conn, route)
    log.warning(
        "deployment.stopped", model=model_name, version=version, status=status, reason=reason
    )
    return True
