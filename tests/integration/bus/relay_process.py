"""The real outbox relay in a process of its own, so that a test can kill it.

    python -m tests.integration.bus.relay_process --database-url URL --bootstrap HOST:PORT \\
        --schema SCHEMA [--batch-size N] [--die-before-marking-batch K]

Prints ``ready`` once connected, and ``published N`` when stopped with SIGTERM.

``--die-before-marking-batch K`` is the crash seam: the process SIGKILLs itself in its K-th
batch after the broker acknowledged every record and before the rows are marked sent, the
window in which a crash publishes rows twice. The seam sits in the database connection
(the relay's ``UPDATE outbox SET sent_at`` is the marking), so :class:`OutboxRelay` runs
unchanged; if that statement ever changes, the process stops dying and the test fails.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
from typing import Any

import asyncpg

from shared.bus.kafka import start_producer
from shared.bus.relay import OutboxRelay
from shared.logging import configure_logging
from shared.settings import Settings
from tests.integration.bus.harness import metric


class DiesBeforeMarking(asyncpg.Connection):
    die_at_batch = 0
    marked = 0

    async def execute(self, query: str, *args: Any, timeout: float | None = None) -> str:
        if query.startswith("UPDATE outbox SET sent_at"):
            DiesBeforeMarking.marked += 1
            if DiesBeforeMarking.marked == DiesBeforeMarking.die_at_batch:
                os.kill(os.getpid(), signal.SIGKILL)
        result: str = await super().execute(query, *args, timeout=timeout)
        return result


async def main(args: argparse.Namespace) -> None:
    DiesBeforeMarking.die_at_batch = args.die_before_marking_batch
    pool = await asyncpg.create_pool(
        args.database_url,
        min_size=1,
        max_size=2,
        connection_class=DiesBeforeMarking,
        server_settings={"search_path": f"{args.schema},public"},
    )
    assert pool is not None
    settings = Settings(database_url=args.database_url, kafka_bootstrap=args.bootstrap)
    producer = await start_producer(settings)
    relay = OutboxRelay(pool, producer, schema=args.schema, batch_size=args.batch_size)
    task = asyncio.create_task(relay.run())
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
    print("ready", flush=True)
    try:
        with contextlib.suppress(asyncio.CancelledError):
            await task
    finally:
        published = metric("modelbus_outbox_published_total", service=args.schema)
        print(f"published {int(published)}", flush=True)
        await producer.stop()
        await pool.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--schema", required=True)
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--die-before-marking-batch", type=int, default=0)
    arguments = parser.parse_args()
    configure_logging("relay", "WARNING")
    asyncio.run(main(arguments))
