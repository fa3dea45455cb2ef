"""What the trainer does with the events it consumes: it records jobs, it never trains.

* ``training.requested`` (anyone's, or the trainer's own announcement of an HTTP request)
  becomes one job per ``request_id``; a request known already changes nothing. The
  decision runs under the request's lock, the one the HTTP submission takes, so a request
  sent over HTTP and on the bus at once is one job either way. A request beyond the caps
  (:func:`services.trainer.training.bounds.check_request`, the check the HTTP route runs)
  is refused: dead-lettered with the reason and answered with ``training.failed``
  naming the cap, no job kept. Its job counts against ``metadata.owner`` (else the
  event's source) for the per-principal limit: beyond it, the job waits queued.
* ``drift.detected`` / ``performance.degraded`` ask for a retraining of a model that opted
  in (:mod:`services.trainer.retraining` decides). At most one retraining per model is
  pending (queued or running) at a time: alerts that arrive meanwhile are noted and
  dropped, since the pending job already answers them; so is an alert whose retraining
  would be beyond the caps as they are now. The decision runs under a lock per
  model, so two alerts handled at once cannot both queue one. The new request is emitted
  through the outbox, in the alert's correlation chain, and recorded as a job in the same
  transaction.

Training happens later, in :class:`services.trainer.worker.TrainingWorker`.
"""

from __future__ import annotations

import structlog

from services.trainer.retraining import retraining_request
from services.trainer.store import job_queries, jobs
from services.trainer.training.bounds import Caps, check_request
from services.trainer.training.errors import CapExceeded
from shared.bus.unit_of_work import UnitOfWork
from shared.errors import Refused
from shared.events.envelope import Event
from shared.events.monitoring import Alert
from shared.events.training import TrainingFailed, TrainingRequested

log = structlog.get_logger(__name__)


async def on_training_requested(
    event: Event[TrainingRequested], uow: UnitOfWork, *, caps: Caps
) -> None:
    request = event.data
    await jobs.lock_request(uow.conn, request.request_id)
    if await job_queries.of_request(uow.conn, request.request_id) is not None:
        log.info("training.request_known", request_id=request.request_id)
        return
    try:
        check_request(request, caps)
    except CapExceeded as exc:
        log.warning("training.refused", request_id=request.request_id, cap=exc.cap)
        reason = f"refused: {exc}"
        notice = TrainingFailed(
            request_id=request.request_id,
            model_name=request.model_name,
            reason=reason,
            error_class=type(exc).__name__,
        )
        raise Refused(reason, notices=[notice]) from exc
    job_id = await jobs.record(uow.conn, event, jobs.bus_principal(event))
    log.info("training.queued", job_id=job_id, request_id=request.request_id)


async def on_alert(event: Event[Alert], uow: UnitOfWork, *, caps: Caps) -> None:
    alert = event.data
    model = alert.model_name
    await jobs.lock_retraining(uow.conn, model)
    request = retraining_request(await job_queries.latest_request(uow.conn, model), alert)
    if request is None:
        log.info("retraining.not_enabled", alert_id=alert.alert_id)
        return
    try:  # the request passed the caps when it was made; they may have been lowered since
        check_request(request, caps)
    except CapExceeded as exc:
        log.warning("retraining.beyond_caps", alert_id=alert.alert_id, reason=str(exc)[:300])
        return
    pending = await job_queries.pending_retraining(uow.conn, model, alert.version)
    if pending is not None:
        log.info("retraining.already_pending", alert_id=alert.alert_id, job_id=pending)
        return
    emitted = await uow.emit(request)
    job_id = await jobs.record(uow.conn, emitted, jobs.bus_principal(emitted))
    log.info(
        "retraining.requested",
        alert_id=alert.alert_id,
        job_id=job_id,
        reason=request.reason,
        parent_version=alert.version,
    )
