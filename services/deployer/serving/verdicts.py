"""Automatic promotions and rollbacks reached on the request path, recorded off it.

A request that completes the evidence only queues the :class:`RolloutVerdict`; this worker
records it through the outbox (route change plus ``model.promoted`` / ``model.rolled_back``
in one transaction). The transition checks the candidate is still the one the evidence was
about, so a verdict another replica (or a person) already acted on changes nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from functools import partial

import structlog

from services.deployer import labelled_rollout
from services.deployer.serving.evidence import RolloutVerdict
from services.deployer.store.transitions import Transition, promote, rollback
from shared.bus.retry import retry_transient
from shared.bus.unit_of_work import Transactions
from shared.errors import Conflict, NotFound

log = structlog.get_logger(__name__)


class VerdictQueue:
    def __init__(
        self, transactions: Transactions, *, applied: Callable[[], Awaitable[None]]
    ) -> None:
        self.transactions = transactions
        self.applied = applied
        # Unbounded on purpose, yet small: evidence yields one verdict per candidate.
        self._queue: asyncio.Queue[RolloutVerdict] = asyncio.Queue()

    def submit(self, verdict: RolloutVerdict) -> None:
        self._queue.put_nowait(verdict)

    async def run(self) -> None:
        while True:
            verdict = await self._queue.get()
            about = log.bind(model=verdict.model_name, version=verdict.version, kind=verdict.kind)
            try:
                await retry_transient(partial(self.apply, verdict), log=about, what="decision")
            except Exception:
                # A verdict that cannot be recorded is lost, not the worker: the next one
                # (or a person, over HTTP) can still move the route.
                about.exception("decision.failed")

    async def apply(self, verdict: RolloutVerdict) -> None:
        transition: Transition = (
            promote if verdict.kind == "promote" else partial(rollback, candidate_only=True)
        )
        async with self.transactions.begin() as uow:
            held = verdict.kind == "promote" and await labelled_rollout.hold(uow, verdict)
        if held:  # the rollout also asks for labelled evidence, which decides from here on
            log.info("decision.held", model=verdict.model_name, version=verdict.version)
            await self.applied()  # it may have been complete, and the route changed
            return
        async with self.transactions.begin() as uow:
            try:
                outcome = await transition(
                    uow,
                    verdict.model_name,
                    version=verdict.version,
                    reason=verdict.reason,
                    actor="deployer",
                    evidence=verdict.evidence,
                )
            except (Conflict, NotFound) as exc:
                log.info(
                    "decision.obsolete",
                    model=verdict.model_name,
                    kind=verdict.kind,
                    reason=exc.message,
                )
                return
        log.info(
            "decision.recorded",
            model=verdict.model_name,
            version=verdict.version,
            kind=verdict.kind,
            changed=outcome.changed,
            message=outcome.message,
        )
        await self.applied()
