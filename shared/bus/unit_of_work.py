"""A unit of work: one Postgres transaction in which a handler changes state and emits events."""

from __future__ import annotations

from collections.abc import AsyncIterator
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
        self, data: Payload, *, subject: str | None = None, caused_by: Event[Any] | None = None
    ) -> Event[Any]:
        event = new_event(
            data,
            source=self.source,
            subject=subject,
            caused_by=caused_by or self.cause,
            correlation_id=self.correlation_id,
        )
        await outbox.add(self.conn, event)
        return event


@asynccontextmanager
async def unit_of_work(
    pool: asyncpg.Pool, source: str, *, correlation_id: str | None = None
) -> AsyncIterator[UnitOfWork]:
    """A transaction for work that does not start from an event (an HTTP request, a worker)."""
    async with pool.acquire() as conn, conn.transaction():
        yield UnitOfWork(conn, source, correlation_id=correlation_id)
