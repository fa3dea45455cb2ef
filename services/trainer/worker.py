"""The worker loop: claim queued jobs and run each, up to ``max_workers`` at a time.

Each claimed job gets one :class:`services.trainer.job_attempt.JobAttempt` (train under a
renewed lease, finish exactly once). A stopping trainer gives its running jobs back
(queued, the attempt not counted); a killed one leaves them to be claimed again when
their lease runs out. An attempt that fails unexpectedly leaves its job running, so it is
claimed again too, until ``max_attempts``.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
from pathlib import Path

import structlog

from services.trainer.job_attempt import JobAttempt, LeaseLost
from services.trainer.runner import Limits, WarmStarter
from services.trainer.settings import TrainerSettings
from services.trainer.store import jobs
from shared.bus.retry import is_transient, retry_transient
from shared.bus.unit_of_work import Transactions
from shared.errors import ModelbusError
from shared.store.sources import ArtifactSources

log = structlog.get_logger(__name__)


class TrainingWorker:
    def __init__(
        self,
        transactions: Transactions,
        sources: ArtifactSources,
        settings: TrainerSettings,
        workroot: Path,
    ) -> None:
        self.transactions = transactions
        self.pool = transactions.pool
        self.sources = sources
        self.store = sources.store
        self.settings = settings
        self.workroot = workroot
        self.starter = WarmStarter(Limits.of(settings)) if settings.warm_start else None

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
            return await jobs.claim(
                conn, self.settings.lease_s, self.settings.max_jobs_per_principal
            )

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
            attempt = JobAttempt(
                claim,
                workdir,
                self.transactions,
                self.store,
                self.sources,
                self.settings,
                self.starter,
            )
            try:
                await attempt.run()
            except LeaseLost:
                log.warning("training.lease_lost")
            except asyncio.CancelledError:
                with contextlib.suppress(Exception):
                    async with self.pool.acquire() as conn:
                        await jobs.release(conn, claim)
                raise
            except Exception as exc:
                await self._after_error(attempt, exc)
            finally:
                await asyncio.to_thread(shutil.rmtree, workdir, True)

    async def _after_error(self, attempt: JobAttempt, exc: Exception) -> None:
        if is_transient(exc) or not isinstance(exc, ModelbusError):
            # Left running: claimed again when the lease runs out, up to max_attempts.
            log.error("training.attempt_failed", exc_info=exc)
            return
        try:  # the request's artifacts are missing, corrupt or too large: final
            await attempt.fail(exc.message, type(exc).__name__)
        except Exception:
            log.exception("training.finish_failed")
