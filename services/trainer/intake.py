"""Training requests in: from the bus (anyone's) and from HTTP (the trainer announces them).

Both paths end in one job per ``request_id``. A request that arrives by HTTP is announced
on ``training.requested`` through the outbox and recorded as a job in the same
transaction; when the trainer later consumes its own event, the job exists and nothing
happens. The handler only records the job and returns: training happens in the worker.
"""

from __future__ import annotations

from typing import Any

import asyncpg
import structlog

from services.trainer.store import job_queries, jobs
from shared.bus.unit_of_work import UnitOfWork, unit_of_work
from shared.events.envelope import Event
from shared.events.training import TrainingRequested

log = structlog.get_logger(__name__)


async def on_training_requested(event: Event[Any], uow: UnitOfWork) -> None:
    job_id = await jobs.record(uow.conn, event)
    if job_id is None:
        log.info("training.request_known", request_id=event.data.request_id)
    else:
        log.info("training.queued", job_id=job_id, request_id=event.data.request_id)


async def submit(pool: asyncpg.Pool, request: TrainingRequested) -> tuple[dict[str, Any], bool]:
    """Announce and queue ``request``; the job, and whether it is new (False: a repeat)."""
    async with unit_of_work(pool, "trainer") as uow:
        await jobs.lock_request(uow.conn, request.request_id)
        known = await job_queries.of_request(uow.conn, request.request_id)
        if known is not None:
            return known, False
        job_id = await jobs.record(uow.conn, await uow.emit(request))
        job = await job_queries.get(uow.conn, job_id) if job_id is not None else None
    assert job is not None
    return job, True
