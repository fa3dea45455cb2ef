"""Retraining on evidence of decay: ``drift.detected`` and ``performance.degraded``.

A model opts in with ``metadata.retraining == "auto"`` on its latest training request.
On an alert the trainer asks for a new training with the same dataset, search and
metadata (``reason`` drift/performance, ``parent_version`` the alerted version), emitted
through the outbox as ``training.requested`` in the alert's correlation chain and
recorded as a job in the same transaction. At most one retraining per model is pending
(queued or running) at a time: alerts that arrive meanwhile are noted and dropped, since
the pending job already answers them. The request id derives from the alert, so the
same alert can never queue two jobs.
"""

from __future__ import annotations

import uuid
from typing import Any

import structlog

from services.trainer.store import job_queries, jobs
from shared.bus.unit_of_work import UnitOfWork
from shared.events.envelope import Event
from shared.events.monitoring import DriftDetected, PerformanceDegraded
from shared.events.training import TrainingRequested

log = structlog.get_logger(__name__)
_NAMESPACE = uuid.UUID("5b0f3c2e-8f0e-4d2a-9a57-6f1f3d1c9e10")


def retraining_request(
    last: TrainingRequested | None, alert: DriftDetected | PerformanceDegraded
) -> TrainingRequested | None:
    """The request to send for ``alert``, or None when the model did not opt in."""
    if last is None or last.metadata.retraining != "auto":
        return None
    return last.model_copy(
        update={
            "request_id": str(uuid.uuid5(_NAMESPACE, f"{alert.model_name}:{alert.alert_id}")),
            "reason": "drift" if isinstance(alert, DriftDetected) else "performance",
            "parent_version": alert.version,
            # Recent labelled production traffic, exported by the monitor with the alert:
            # appended to the original training split, so the new model learns the shift.
            "extra_data": alert.labelled_data,
        }
    )


async def on_alert(event: Event[Any], uow: UnitOfWork) -> None:
    alert: DriftDetected | PerformanceDegraded = event.data
    model = alert.model_name
    await jobs.lock_retraining(uow.conn, model)
    request = retraining_request(await job_queries.latest_request(uow.conn, model), alert)
    if request is None:
        log.info("retraining.not_enabled", alert_id=alert.alert_id)
        return
    pending = await job_queries.pending_retraining(uow.conn, model, alert.version)
    if pending is not None:
        log.info("retraining.already_pending", alert_id=alert.alert_id, job_id=pending)
        return
    job_id = await jobs.record(uow.conn, await uow.emit(request))
    log.info(
        "retraining.requested",
        alert_id=alert.alert_id,
        job_id=job_id,
        reason=request.reason,
        parent_version=alert.version,
    )
