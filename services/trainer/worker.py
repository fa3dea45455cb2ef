"""The worker loop: claim queued jobs, train each in a process, finish each exactly once.

Up to ``max_workers`` jobs run at a time. While a job trains, its lease is renewed every
``heartbeat_s`` together with its progress; a worker that finds its lease gone (another
trainer took the job after this one stalled) kills its training and walks away. The
outcome (job row final state + ``training.completed``/``training.failed``) is written in
one transaction, and only if :func:`services.trainer.store.jobs.finish` still found the job
ours: a re-run cannot emit twice. A stopping trainer gives its jobs back (queued); a
killed one leaves them to be claimed again when their lease runs out.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import time
from pathlib import Path
from typing import Any

import structlog

from services.trainer.outcome import completed_event, failed_event, store_outputs
from services.trainer.runner import Progress, WarmStarter, run_training, write_inputs
from services.trainer.settings import TrainerSettings
from services.trainer.store import jobs
from shared.bus.retry import Backoff, is_transient, retry_transient
from shared.bus.unit_of_work import Transactions
from shared.errors import ModelbusError
from shared.events.common import Payload
from shared.events.training import TrainingCompleted, TrainingRequested
from shared.store.artifacts import ArtifactStore, fetch

log = structlog.get_logger(__name__)


class LeaseLost(Exception):
    """Another trainer holds the job now; this one must stop working on it."""


class TrainingWorker:
    def __init__(
        self,
        transactions: Transactions,
        store: ArtifactStore,
        settings: TrainerSettings,
        workroot: Path,
    ) -> None:
        self.transactions = transactions
        self.pool = transactions.pool
        self.store = store
        self.settings = settings
        self.workroot = workroot
        self.starter = WarmStarter(settings.max_workers) if settings.warm_start else None

    async def run(self) -> None:
        """Claim and run jobs until cancelled; on cancellation, give running jobs back."""
        slots = asyncio.Semaphore(self.settings.max_workers)
        running: set[asyncio.Task[None]] = set()
        try:
            if self.starter is not None:
                await self.starter.prepare()
            while True:
                await slots.acquire()
                try:
                    claim = await retry_transient(
                        self._claim, log=log, what="trainer.claim", every_error=True
                    )
                except BaseException:
                    slots.release()
                    raise
                if claim is None:
                    slots.release()
                    await asyncio.sleep(self.settings.poll_s)
                    continue
                task = asyncio.create_task(self.run_job(claim))
                running.add(task)
                task.add_done_callback(running.discard)
                task.add_done_callback(lambda _: slots.release())
        finally:
            for task in running:
                task.cancel()
            await asyncio.gather(*running, return_exceptions=True)
            if self.starter is not None:
                await self.starter.close()

    async def _claim(self) -> jobs.Claim | None:
        async with self.pool.acquire() as conn:
            return await jobs.claim(conn, self.settings.lease_s)

    async def run_job(self, claim: jobs.Claim) -> None:
        request = claim.request
        with structlog.contextvars.bound_contextvars(
            job_id=claim.job_id,
            model=request.model_name,
            correlation_id=claim.event.correlationid,
            attempt=claim.attempts,
        ):
            log.info("training.started", request_id=request.request_id)
            workdir = self.workroot / f"{claim.job_id}-{claim.token[:8]}"
            try:
                await self._attempt(claim, workdir)
            except LeaseLost:
                log.warning("training.lease_lost")
            except asyncio.CancelledError:
                with contextlib.suppress(Exception):
                    async with self.pool.acquire() as conn:
                        await jobs.release(conn, claim)
                raise
            except Exception as exc:
                await self._after_error(claim, exc)
            finally:
                await asyncio.to_thread(shutil.rmtree, workdir, True)

    async def _after_error(self, claim: jobs.Claim, exc: Exception) -> None:
        if is_transient(exc) or not isinstance(exc, ModelbusError):
            # Left running: claimed again when the lease runs out, up to max_attempts.
            log.error("training.attempt_failed", exc_info=exc)
            return
        try:  # the request's artifacts are missing, corrupt or too large: final
            await self._finish(claim, failed_event(claim, exc.message, type(exc).__name__))
        except Exception:
            log.exception("training.finish_failed")

    async def _attempt(self, claim: jobs.Claim, workdir: Path) -> None:
        started = time.perf_counter()
        if claim.attempts > self.settings.max_attempts:
            reason = (
                f"gave up after {claim.attempts - 1} attempts that did not finish (the "
                "trainer stopped or hit an unexpected error; see its logs)"
            )
            await self._finish(claim, failed_event(claim, reason, "TooManyAttempts"))
            return
        result = await self._with_heartbeat(claim, workdir)
        if result["status"] != "succeeded":
            log.warning("training.failed", reason=result["reason"][:500])
            await self._finish(claim, failed_event(claim, result["reason"], result["error_class"]))
            return
        refs = await store_outputs(self.store, workdir)
        payload = completed_event(claim, result["summary"], refs, time.perf_counter() - started)
        log.info(
            "training.succeeded",
            algorithm=payload.algorithm,
            metrics=payload.metrics,
            duration_s=round(payload.duration_s, 2),
        )
        await self._finish(claim, payload)

    async def _with_heartbeat(self, claim: jobs.Claim, workdir: Path) -> dict[str, Any]:
        """Stage the inputs and train, renewing the lease (with progress) meanwhile."""
        progress = {"stage": "fetching the dataset", "fraction": 0.0}

        def report(stage: str, fraction: float) -> None:
            progress["stage"] = stage
            progress["fraction"] = fraction if fraction >= 0 else progress["fraction"]
            log.info("training.progress", stage=stage, fraction=progress["fraction"])

        work = asyncio.create_task(self._stage_and_train(claim.request, workdir, report))
        try:
            while not work.done():
                await asyncio.wait({work}, timeout=self.settings.heartbeat_s)
                if not work.done() and not await self._renew(claim, progress):
                    raise LeaseLost()
            return work.result()
        finally:
            if not work.done():
                work.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await work

    async def _stage_and_train(
        self, request: TrainingRequested, workdir: Path, report: Progress
    ) -> dict[str, Any]:
        limit = self.settings.max_dataset_bytes
        dataset, extra = [
            await fetch(ref, self.store, max_bytes=limit) if ref else None
            for ref in (request.dataset.artifact, request.extra_data)
        ]
        await asyncio.to_thread(write_inputs, workdir, request, dataset, extra)
        return await run_training(
            workdir,
            report,
            timeout_s=self.settings.job_timeout_s,
            process=await self.starter.take() if self.starter else None,
            concurrent_jobs=self.settings.max_workers,
        )

    async def _renew(self, claim: jobs.Claim, progress: dict[str, Any]) -> bool:
        try:
            async with self.pool.acquire() as conn:
                return await jobs.renew(
                    conn,
                    claim,
                    self.settings.lease_s,
                    str(progress["stage"]),
                    float(progress["fraction"]),
                )
        except Exception as exc:
            if not is_transient(exc):
                raise
            log.warning("training.heartbeat_failed", error=repr(exc)[:300])
            return True  # keep going: the lease may survive the outage, finish will tell

    async def _finish(self, claim: jobs.Claim, payload: Payload) -> None:
        """Final state and outcome event in one transaction, if the job is still ours."""
        succeeded = isinstance(payload, TrainingCompleted)
        outcome = payload.model_dump(mode="json")

        async def attempt() -> None:
            async with self.transactions.begin(cause=claim.event) as uow:
                done = await jobs.finish(
                    uow.conn,
                    claim,
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
