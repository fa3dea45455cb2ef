"""Asking the trainer for a training over HTTP: the trainer announces the request itself.

The request is emitted on ``training.requested`` through the outbox and recorded as a job
in the same transaction, under a lock on its ``request_id``: a repeated request finds its
job and emits nothing. A principal with ``max_jobs`` unfinished jobs already is told to
come back later (429), under a lock on the principal so two requests at once cannot both
take its last slot. When the trainer later consumes its own announcement, the job
exists and :func:`services.trainer.handlers.on_training_requested` changes nothing.
"""

from __future__ import annotations

from typing import Any

from services.trainer.store import job_queries, jobs
from shared.bus.unit_of_work import Transactions
from shared.errors import TooManyRequests
from shared.events.training import TrainingRequested

# What a client over its job limit is told to wait before asking again.
RETRY_AFTER_S = 30.0


async def submit(
    transactions: Transactions, request: TrainingRequested, principal: str, *, max_jobs: int
) -> tuple[dict[str, Any], bool]:
    """Announce and queue ``request`` for ``principal``; the job, and whether it is new
    (False: a repeat). :class:`TooManyRequests` if ``principal`` has ``max_jobs``
    unfinished jobs."""
    async with transactions.begin() as uow:
        await jobs.lock_request(uow.conn, request.request_id)
        known = await job_queries.of_request(uow.conn, request.request_id)
        if known is not None:
            return known, False
        await jobs.lock_principal(uow.conn, principal)
        if await jobs.unfinished_of(uow.conn, principal) >= max_jobs:
            raise TooManyRequests(
                f"{principal} has {max_jobs} training jobs queued or running, the most one "
                "principal may have (MODELBUS_TRAINER_MAX_JOBS_PER_PRINCIPAL); ask again "
                "when one has finished",
                retry_after_s=RETRY_AFTER_S,
            )
        job_id = await jobs.record(uow.conn, await uow.emit(request), principal)
        job = await job_queries.get(uow.conn, job_id) if job_id is not None else None
    assert job is not None
    return job, True
