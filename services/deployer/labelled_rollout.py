"""Acting on a rollout's labelled evidence (:mod:`services.deployer.serving.quality_gate`).

Two things complete it, in either order, each in a transaction holding the route's lock:
the request evidence passing (the verdict queue :func:`hold`\\ s the candidate instead of
promoting it) and a performance window arriving on ``monitor.metrics``
(:func:`record`). Either one then :func:`settle`\\ s: a candidate proven worse is rolled
back at once, one proven as good and held is promoted, and otherwise nothing changes.
Every replica consumes every window; the window's event id makes it count once, and the
route lock and the transitions' own checks make the decision happen once.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import structlog

from services.deployer.serving.evidence import RolloutVerdict
from services.deployer.serving.quality_gate import ArmQuality, QualityVerdict, judge, measured
from services.deployer.store import quality
from services.deployer.store.desired_state import RouteRecord, VersionRecord
from services.deployer.store.rows import get_version, lock_route
from services.deployer.store.transitions import CLOCK_SKEW, Outcome, promote, rollback
from shared.bus.unit_of_work import UnitOfWork
from shared.errors import InvalidEvent
from shared.events.monitoring import MonitorMetrics
from shared.store.db import Connection

log = structlog.get_logger(__name__)


async def _gated(uow: UnitOfWork, model_name: str) -> tuple[RouteRecord, VersionRecord] | None:
    """The locked route and its candidate, if the candidate's rollout asks for labelled
    evidence and there is a stable version to compare it with."""
    route = await lock_route(uow.conn, model_name)
    if route is None or route.candidate_version is None or route.stable_version is None:
        return None
    candidate = await get_version(uow.conn, model_name, route.candidate_version)
    if candidate is None or candidate.strategy.min_labelled == 0:
        return None
    return route, candidate


async def judged_on_labels(uow: UnitOfWork, model_name: str, version: int) -> bool:
    """Whether ``version`` is the candidate of a rollout that asks for labelled evidence.

    Drift on such a candidate's inputs is then no ground to roll it back: its traffic is
    the stable version's, and a retrained candidate sees precisely the shift it was
    retrained for. Its labels, against the stable version's on the same traffic, say
    whether it predicts worse."""
    gated = await _gated(uow, model_name)
    return gated is not None and gated[1].version == version


def _since(candidate: VersionRecord) -> datetime:
    """Windows count from the rollout's start: the stable's earlier traffic is not evidence."""
    return candidate.approved_at - CLOCK_SKEW


async def hold(uow: UnitOfWork, verdict: RolloutVerdict) -> bool:
    """The request evidence passed: hold the candidate for its labelled evidence, and settle
    at once (it may be complete already). False if the rollout asks for none: the caller
    promotes as before."""
    gated = await _gated(uow, verdict.model_name)
    if gated is None or gated[1].version != verdict.version:
        return False
    await quality.hold(uow.conn, verdict.model_name, verdict.version, verdict.reason,
                       verdict.evidence)  # fmt: skip
    await settle(uow, *gated)
    return True


async def record(uow: UnitOfWork, event_id: str, window: MonitorMetrics) -> Outcome | None:
    """A performance window of one arm: remember it if it is evidence on a gated rollout,
    then settle the rollout."""
    scored = measured(window.metrics)
    if scored is None:
        return None
    gated = await _gated(uow, window.model_name)
    if gated is None:
        return None
    route, candidate = gated
    try:
        start = datetime.fromisoformat(window.window.start)
    except ValueError:
        raise InvalidEvent("monitor.metrics: the window's start is not an ISO 8601 time") from None
    start = start if start.tzinfo is not None else start.replace(tzinfo=UTC)
    if window.version not in (route.candidate_version, route.stable_version):
        return None
    if start < _since(candidate):
        return None
    fresh = await quality.record_window(
        uow.conn, event_id, window.model_name, window.version, scored, start
    )
    return await settle(uow, route, candidate) if fresh else None


async def _verdict(
    conn: Connection, route: RouteRecord, candidate: VersionRecord
) -> QualityVerdict:
    name, since = route.model_name, _since(candidate)
    assert route.stable_version is not None
    metric = await quality.metric_of(conn, name, candidate.version, since)
    arms = [
        await quality.arm_quality(conn, name, v, metric, since) if metric else ArmQuality()
        for v in (candidate.version, route.stable_version)
    ]
    return judge(candidate.strategy, metric, *arms)


async def settle(uow: UnitOfWork, route: RouteRecord, candidate: VersionRecord) -> Outcome | None:
    name = route.model_name
    verdict = await _verdict(uow.conn, route, candidate)
    if verdict.kind == "rollback":
        return await rollback(uow, name, version=candidate.version, reason=verdict.reason,
                              actor="deployer", evidence=verdict.evidence, candidate_only=True)  # fmt: skip
    held = await quality.held(uow.conn, name, candidate.version)
    if verdict.kind == "wait" or held is None:
        log.info("rollout.awaiting", model=name, version=candidate.version,
                 reason=verdict.reason, requests_passed=held is not None)  # fmt: skip
        return None
    reason, evidence = held
    return await promote(uow, name, version=candidate.version, reason=f"{reason}; {verdict.reason}",
                         actor="deployer", evidence={**evidence, **verdict.evidence})  # fmt: skip


async def progress(
    conn: Connection, route: RouteRecord, candidate: VersionRecord
) -> dict[str, Any] | None:
    """How far a gated rollout's labelled evidence is, for the deployment status."""
    if route.stable_version is None or candidate.strategy.min_labelled == 0:
        return None
    verdict = await _verdict(conn, route, candidate)
    held = await quality.held(conn, route.model_name, candidate.version)
    return {
        **verdict.evidence,
        "min_labelled": candidate.strategy.min_labelled,
        "max_quality_drop": candidate.strategy.max_quality_drop,
        "requests_passed": held is not None,
        "says": verdict.reason,
    }
