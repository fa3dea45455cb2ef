"""A consumer in a process of its own (BatchProcessor behind the shared faststream subscriber).

    python -m tests.integration.bus.consumer_process --database-url URL --bootstrap HOST:PORT \\
        --schema SCHEMA [--batch-size N] [--handler-delay SECONDS]

Its consumer group is the schema's name and its handler records one ``effects`` row per
event (see :mod:`tests.integration.bus.harness`). Prints ``ready`` once it has joined the
group; runs until SIGTERM or SIGKILL.
"""

from __future__ import annotations

import argparse
import asyncio
import signal

import asyncpg

from shared.bus.subscriber import subscribe
from shared.logging import configure_logging
from shared.settings import Settings
from tests.integration.bus.harness import processor


async def main(args: argparse.Namespace) -> None:
    pool = await asyncpg.create_pool(
        args.database_url,
        min_size=1,
        max_size=4,
        server_settings={"search_path": f"{args.schema},public"},
    )
    assert pool is not None
    settings = Settings(
        database_url=args.database_url,
        kafka_bootstrap=args.bootstrap,
        consumer_batch_size=args.batch_size,
    )
    broker, joined = subscribe(
        settings, processor(pool, args.schema, delay_s=args.handler_delay), group_id=args.schema
    )
    stopping = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stopping.set)
    await broker.start()
    try:
        await joined.wait()
        print("ready", flush=True)
        await stopping.wait()
    finally:
        await broker.stop()
        await pool.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--schema", required=True)
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--handler-delay", type=float, default=0.0)
    arguments = parser.parse_args()
    configure_logging("consumer", "WARNING")
    asyncio.run(main(arguments))
