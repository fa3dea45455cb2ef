"""What the trainer does with the events it consumes: it records jobs, it never trains.

* ``training.requested`` (anyone's, or the trainer's own announcement of an HTTP request)
  becomes one job per ``request_id``; a request known already changes nothing.
* ``drift.detected`` / ``performance.degraded`` ask for a retraining of a model that opted
  in (:mod:`services.trainer.retraining` decides). At most one retraining per model is
  pending (queued or running) at a time: alerts that arrive meanwhile are noted and
  dropped, since the pending job already answers them. The decision runs under a lock per
  model, so two alerts handled at once cannot both queue one. The new request is emitted
  through the outbox, in the alert's correlation chain, and recorded as a job in the same
  transaction.

Training happens later, in :class:`services.trainer.worker.TrainingWorker`.
"""

from __future__ import annotations

import structlog

from services.trainer.retraining import retraining_request
from services.trainer.store import job_queries, jobs
from shared.bus.unit_of_work import UnitOfWork
from shared.events.envelope import Event
from shared.events.monitoring import Alert
from shared.events.training import TrainingRequested

log = structlog.get_logger(__name__)


async def on_training_requested(event: Event[TrainingRequested], uow: UnitOfWork) -> None:
    job_id = await jobs.record(uow.conn, event)
    if job_id is None:
        log.info("training.request_known", request_id=event.data.request_id)
    else:
        log.info("training.queued", job_id=job_id, request_id=event.data.request_id)


async def on_alert(event: Event[Alert], uow: UnitOfWork) -> None:
    alert = event.data
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
