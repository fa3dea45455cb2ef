"""A unit of work: one Postgres transaction in which a handler changes state and emits events."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import asyncpg

from shared.bus import outbox
from shared.events.common import Payload
from shared.events.envelope import Event, new_event
from shared.store.db import Connection


@dataclass
class UnitOfWork:
    """What a handler gets besides its event: the transaction's connection and ``emit``.

    ``emit`` writes to the outbox on the same connection, so the event is published if and
    only if the transaction commits. Events emitted while handling an event carry its
    correlation id and name it as their cause.
    """

    conn: Connection
    source: str
    cause: Event[Any] | None = None
    correlation_id: str | None = None

    async def emit(
        self,
        data: Payload,
        *,
        subject: str | None = None,
        caused_by: Event[Any] | None = None,
        correlation_id: str | None = None,
        seal: Callable[[Event[Any]], Awaitable[Event[Any]]] | None = None,
    ) -> Event[Any]:
        """Queue ``data`` as an event; ``caused_by`` and ``correlation_id`` override, for
        this event only, the unit's cause and chain (a decision continuing a stored chain).
        ``seal`` completes the event before it is queued (governance signs its decisions)."""
        event = new_event(
            data,
            source=self.source,
            subject=subject,
            caused_by=caused_by or self.cause,
            correlation_id=correlation_id or self.correlation_id,
        )
        if seal is not None:
            event = await seal(event)
        await outbox.add(self.conn, event)
        return event


@dataclass(frozen=True)
class Transactions:
    """Units of work of one service: its pool, and its name as the source of its events.

    The runtime makes one per service (``Infrastructure.transactions``); work that does not
    start from a consumed event (an HTTP request, a worker) opens its transactions here.
    """

    pool: asyncpg.Pool
    source: str

    @asynccontextmanager
    async def begin(
        self, *, cause: Event[Any] | None = None, correlation_id: str | None = None
    ) -> AsyncIterator[UnitOfWork]:
        async with self.pool.acquire() as conn, conn.transaction():
            yield UnitOfWork(conn, self.source, cause=cause, correlation_id=correlation_id)

    def on(self, conn: Connection, *, cause: Event[Any] | None = None) -> UnitOfWork:
        """A unit of work in a transaction the caller already holds on ``conn``."""
        return UnitOfWork(conn, self.source, cause=cause)
