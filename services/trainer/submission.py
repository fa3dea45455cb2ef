"""Asking the trainer for a training over HTTP: the trainer announces the request itself.

The request is emitted on ``training.requested`` through the outbox and recorded as a job
in the same transaction, under a lock on its ``request_id``: a repeated request finds its
job and emits nothing. When the trainer later consumes its own announcement, the job
exists and :func:`services.trainer.handlers.on_training_requested` changes nothing.
"""

from __future__ import annotations

from typing import Any

from services.trainer.store import job_queries, jobs
from shared.bus.unit_of_work import Transactions
from shared.events.training import TrainingRequested


async def submit(
    transactions: Transactions, request: TrainingRequested
) -> tuple[dict[str, Any], bool]:
    """Announce and queue ``request``; the job, and whether it is new (False: a repeat)."""
    async with transactions.begin() as uow:
        await jobs.lock_request(uow.conn, request.request_id)
        known = await job_queries.of_request(uow.conn, request.request_id)
        if known is not None:
            return known, False
        job_id = await jobs.record(uow.conn, await uow.emit(request))
        job = await job_queries.get(uow.conn, job_id) if job_id is not None else None
    assert job is not None
    return job, True
