"""One attempt at a claimed job: stage its inputs, train under a renewed lease, finish once.

While the job trains, its lease is renewed every ``heartbeat_s`` together with its
progress; an attempt that finds its lease gone (another trainer took the job after this
one stalled) kills its training and raises :class:`LeaseLost`. The outcome (the job's
final state and ``training.completed``/``training.failed``) is written in one
transaction, and only if :func:`services.trainer.store.jobs.finish` still found the job
ours: a re-run cannot emit twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import structlog

from services.trainer.outcome import completed_event, failed_event, store_outputs
from services.trainer.runner import Limits, Progress, WarmStarter, run_training, write_inputs
from services.trainer.settings import TrainerSettings
from services.trainer.store import jobs
from shared.bus.retry import Backoff, is_transient, retry_transient
from shared.bus.unit_of_work import Transactions
from shared.events.common import Payload
from shared.events.training import TrainingCompleted
from shared.store.artifacts import ArtifactStore
from shared.store.sources import ArtifactSources

log = structlog.get_logger(__name__)


class LeaseLost(Exception):
    """Another trainer holds the job now; this one must stop working on it."""


@dataclass(frozen=True)
class JobAttempt:
    claim: jobs.Claim
    workdir: Path
    transactions: Transactions
    store: ArtifactStore
    sources: ArtifactSources
    settings: TrainerSettings
    starter: WarmStarter | None

    async def run(self) -> None:
        """Train and report the outcome; a job claimed too often fails without training."""
        claim, started = self.claim, time.perf_counter()
        if claim.attempts > self.settings.max_attempts:
            reason = (
                f"gave up after {claim.attempts - 1} attempts that did not finish (the "
                "trainer stopped or hit an unexpected error; see its logs)"
            )
            await self.fail(reason, "TooManyAttempts")
            return
        result = await self._train_under_lease()
        if result["status"] != "succeeded":
            log.warning("training.failed", reason=result["reason"][:500])
            await self.fail(result["reason"], result["error_class"])
            return
        refs = await store_outputs(self.store, self.workdir)
        payload = completed_event(claim, result["summary"], refs, time.perf_counter() - started)
        log.info(
            "training.succeeded",
            algorithm=payload.algorithm,
            metrics=payload.metrics,
            duration_s=round(payload.duration_s, 2),
        )
        await self._finish(payload)

    async def fail(self, reason: str, error_class: str) -> None:
        """Fail the job for good with ``reason`` (``training.failed``), if it is still ours."""
        await self._finish(failed_event(self.claim, reason, error_class))

    async def _train_under_lease(self) -> dict[str, Any]:
        """Stage the inputs and train, renewing the lease (with progress) meanwhile."""
        progress = {"stage": "fetching the dataset", "fraction": 0.0}

        def report(stage: str, fraction: float) -> None:
            progress["stage"] = stage
            progress["fraction"] = fraction if fraction >= 0 else progress["fraction"]
            log.info("training.progress", stage=stage, fraction=progress["fraction"])

        work = asyncio.create_task(self._stage_and_train(report))
        try:
            while not work.done():
                await asyncio.wait({work}, timeout=self.settings.heartbeat_s)
                if not work.done() and not await self._renew(progress):
                    raise LeaseLost()
            return work.result()
        finally:
            if not work.done():
                work.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await work

    async def _stage_and_train(self, report: Progress) -> dict[str, Any]:
        request, limit = self.claim.request, self.settings.max_dataset_bytes
        dataset, extra = [
            await self.sources.fetch(ref, max_bytes=limit) if ref else None
            for ref in (request.dataset.artifact, request.extra_data)
        ]
        await asyncio.to_thread(write_inputs, self.workdir, request, dataset, extra)
        return await run_training(
            self.workdir,
            report,
            timeout_s=self.settings.job_timeout_s,
            process=await self.starter.take() if self.starter else None,
            limits=Limits.of(self.settings),
        )

    async def _renew(self, progress: dict[str, Any]) -> bool:
        try:
            async with self.transactions.pool.acquire() as conn:
                return await jobs.renew(
                    conn,
                    self.claim,
                    self.settings.lease_s,
                    str(progress["stage"]),
                    float(progress["fraction"]),
                )
        except Exception as exc:
            if not is_transient(exc):
                raise
            log.warning("training.heartbeat_failed", error=repr(exc)[:300])
            return True  # keep going: the lease may survive the outage, finish will tell

    async def _finish(self, payload: Payload) -> None:
        """Final state and outcome event in one transaction, if the job is still ours."""
        succeeded = isinstance(payload, TrainingCompleted)
        outcome = payload.model_dump(mode="json")

        async def attempt() -> None:
            async with self.transactions.begin(cause=self.claim.event) as uow:
                done = await jobs.finish(
                    uow.conn,
                    self.claim,
                    succeeded=succeeded,
                    outcome=outcome,
                    failure_reason=getattr(payload, "reason", None) if not succeeded else None,
                )
                if done:
                    await uow.emit(payload)
            if not done:
                raise LeaseLost()

        await retry_transient(
            attempt, log=log, what="training.finish", backoff=Backoff(cap_s=2.0), attempts=5
        )
