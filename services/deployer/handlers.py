"""Lifecycle events in: record what should serve; loading is left to the reconciler.

Every replica consumes every event (one consumer group per replica) and the desired-state
tables are shared, so each handler is written to be applied any number of times by any
number of replicas with one effect: approvals are upserts keyed by the approval's event
id, transitions lock the route and check they still apply. Between approvals and
withdrawals of a version, governance's sequence (``govseq``, signed) decides, never an
event's time; the consumer has already refused decisions that are unsigned, badly signed
or replayed. An approval loads only the artifact the registry registered for its version.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import structlog

from services.deployer import labelled_rollout
from services.deployer.settings import DeployerSettings
from services.deployer.store.approvals import record_approval, refuse
from services.deployer.store.registrations import record_registration, release_awaiting
from services.deployer.store.transitions import rollback, stop_serving
from shared.bus.unit_of_work import UnitOfWork
from shared.errors import NotFound
from shared.events.envelope import Event
from shared.events.governance import ModelApproved, VersionWithdrawn
from shared.events.monitoring import Alert, DriftDetected, MonitorMetrics, PerformanceDegraded
from shared.events.registry import ModelRegistered

log = structlog.get_logger(__name__)

Poke = Callable[[], None]


def _govseq(event: Event[Any]) -> int:
    """Governance's sequence number of a decision (the consumer verified it is there)."""
    assert event.govseq is not None, "decisions reach handlers only signed"
    return event.govseq


async def on_registered(
    event: Event[ModelRegistered], uow: UnitOfWork, *, config: DeployerSettings, poke: Poke
) -> None:
    """Remember what the registry registered: the only artifact an approval may load."""
    reg = event.data
    if not config.serves(reg.model_name):
        return
    registered = await record_registration(uow.conn, reg.model_name, reg.version, reg.artifact)
    waited, refused = await release_awaiting(uow.conn, reg.model_name, reg.version, registered)
    if refused is not None:
        await refuse(uow, reg.model_name, reg.version, refused)
    elif waited:
        poke()


async def on_approved(
    event: Event[ModelApproved], uow: UnitOfWork, *, config: DeployerSettings, poke: Poke
) -> None:
    approved = event.data
    if not config.serves(approved.model_name):
        return
    status = await record_approval(uow, approved, event_id=event.id, govseq=_govseq(event))
    if status is not None:
        log.info(
            "deployment.requested",
            version=approved.version,
            strategy=approved.decision.strategy.kind,
            status=status,
        )
    poke()


async def on_stopped(
    event: Event[VersionWithdrawn],
    uow: UnitOfWork,
    *,
    status: str,
    config: DeployerSettings,
    poke: Poke,
) -> None:
    """``model.suspended`` (kill switch) and ``model.retired``: the version stops serving."""
    stopped = event.data
    if not config.serves(stopped.model_name):
        return
    await stop_serving(
        uow,
        stopped.model_name,
        stopped.version,
        status=status,
        reason=f"{stopped.reason} (by {stopped.actor})",
        govseq=_govseq(event),
    )
    poke()


async def on_alert(
    event: Event[Alert], uow: UnitOfWork, *, config: DeployerSettings, poke: Poke
) -> None:
    """Drift or degraded performance on a candidate rolls it back; on a stable version it is
    the trainer's and governance's business, not a deployment decision. A candidate held to
    labelled evidence is judged on its labels, not on drift of its inputs."""
    alert = event.data
    if not config.serves(alert.model_name):
        return
    if isinstance(alert, DriftDetected) and await labelled_rollout.judged_on_labels(
        uow, alert.model_name, alert.version
    ):
        log.info("rollout.drift_left_to_labels", version=alert.version, alert_id=alert.alert_id)
        return
    reason, evidence = _grounds(alert)
    try:
        outcome = await rollback(
            uow,
            alert.model_name,
            version=alert.version,
            reason=reason,
            actor="deployer",
            evidence=evidence,
            candidate_only=True,
            not_before=event.time,
        )
    except NotFound:
        return  # never deployed here
    if outcome.changed:
        poke()


async def on_metrics(
    event: Event[MonitorMetrics], uow: UnitOfWork, *, config: DeployerSettings, poke: Poke
) -> None:
    """A performance window of a rollout that asks for labelled evidence may complete it:
    the candidate is then promoted or rolled back (:mod:`services.deployer.labelled_rollout`)."""
    window = event.data
    if not config.serves(window.model_name):
        return
    outcome = await labelled_rollout.record(uow, event.id, window)
    if outcome is not None and outcome.changed:
        poke()


def _grounds(alert: Alert) -> tuple[str, dict[str, float]]:
    """The reason and the evidence a rollback on ``alert`` records."""
    if isinstance(alert, DriftDetected):
        named = alert.top_features[:5]
        if alert.multivariate is not None and alert.multivariate.drifted:
            named = [*named, "multivariate (PCA reconstruction error)"]
        reason = f"drift detected (alert {alert.alert_id}): {', '.join(named)}"
        return reason, {"drifted_features": float(sum(f.drifted for f in alert.features))}
    if isinstance(alert, PerformanceDegraded):
        reason = (
            f"performance degraded (alert {alert.alert_id}): {alert.metric} "
            f"{alert.value:.4f} below threshold {alert.threshold:.4f}"
        )
        return reason, {
            alert.metric: alert.value,
            "baseline": alert.baseline,
            "threshold": alert.threshold,
        }
    return f"{type(alert).__name__} (alert {alert.alert_id})", {}
