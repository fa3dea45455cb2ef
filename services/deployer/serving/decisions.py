"""Automatic promotions and rollbacks decided on the request path, recorded off it.

A request that completes the evidence only queues the :class:`Decision`; this worker
records it through the outbox (route change plus ``model.promoted`` / ``model.rolled_back``
in one transaction). The transition checks the candidate is still the one the evidence was
about, so a decision another replica (or a person) already took changes nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from functools import partial

import structlog

from services.deployer.serving.evidence import Decision
from services.deployer.store.transitions import promote, rollback
from shared.bus.retry import retry_transient
from shared.bus.unit_of_work import Transactions
from shared.errors import Conflict, NotFound

log = structlog.get_logger(__name__)


class DecisionQueue:
    def __init__(
        self, transactions: Transactions, *, applied: Callable[[], Awaitable[None]]
    ) -> None:
        self.transactions = transactions
        self.applied = applied
        # Unbounded on purpose, yet small: evidence yields one decision per candidate.
        self._queue: asyncio.Queue[Decision] = asyncio.Queue()

    def submit(self, decision: Decision) -> None:
        self._queue.put_nowait(decision)

    async def run(self) -> None:
        while True:
            decision = await self._queue.get()
            try:
                await retry_transient(partial(self.apply, decision), log=log, what="decision")
            except Exception:
                log.exception(
                    "decision.failed",
                    model=decision.model_name,
                    version=decision.version,
                    kind=decision.kind,
                )

    async def apply(self, decision: Decision) -> None:
        async with self.transactions.begin() as uow:
            try:
                if decision.kind == "promote":
                    outcome = await promote(
                        uow,
                        decision.model_name,
                        version=decision.version,
                        reason=decision.reason,
                        actor="deployer",
                        evidence=decision.evidence,
                    )
                else:
                    outcome = await rollback(
                        uow,
                        decision.model_name,
                        version=decision.version,
                        reason=decision.reason,
                        actor="deployer",
                        evidence=decision.evidence,
                        candidate_only=True,
                    )
            except (Conflict, NotFound) as exc:
                log.info(
                    "decision.obsolete",
                    model=decision.model_name,
                    kind=decision.kind,
                    reason=exc.message,
                )
                return
        log.info(
            "decision.recorded",
            model=decision.model_name,
            version=decision.version,
            kind=decision.kind,
            changed=outcome.changed,
            message=outcome.message,
        )
        await self.applied()
