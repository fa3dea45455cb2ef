"""The embedded Postgres and Tansu broker really serve, keep state where promised, and leave
no process behind when stopped."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import psutil
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from modelbus.embedded import EmbeddedPostgres, TansuBroker, pick_free_port


def process_tree(pid: int | None) -> list[psutil.Process]:
    assert pid is not None
    root = psutil.Process(pid)
    return [root, *root.children(recursive=True)]


async def postgres_round_trip(url: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        assert await conn.fetchval("select 1") == 1
        await conn.execute("create table kept (note text)")
        await conn.execute("insert into kept values ('survives a restart')")
    finally:
        await conn.close()


async def kafka_round_trip(bootstrap: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic("round-trip", num_partitions=1, replication_factor=1)])
    finally:
        await admin.close()

    # Tansu has no idempotent producer.
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=False)
    await producer.start()
    try:
        await producer.send_and_wait("round-trip", b"hello", key=b"k")
    finally:
        await producer.stop()

    consumer = AIOKafkaConsumer(
        "round-trip", bootstrap_servers=bootstrap, auto_offset_reset="earliest", group_id=None
    )
    await consumer.start()
    try:
        message = await asyncio.wait_for(consumer.getone(), timeout=30)
    finally:
        await consumer.stop()
    assert (message.key, message.value) == (b"k", b"hello")


@pytest.fixture
def workdir() -> Iterator[Path]:
    """A scratch directory outside pytest's tmp_path.

    Running as root, Postgres runs as an unprivileged user that must traverse the path to
    its data directory. Every pytest session that starts on this machine resets
    /tmp/pytest-of-root to 0700, which would lock that user out mid-test.
    """
    path = Path(tempfile.mkdtemp(prefix="modelbus-it-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.mark.integration
async def test_embedded_postgres_and_tansu_serve_and_stop_cleanly(workdir: Path) -> None:
    postgres = EmbeddedPostgres(workdir / "postgres", port=pick_free_port())
    broker = TansuBroker(pick_free_port(), log_dir=workdir / "logs")
    try:
        postgres.start()
        broker.start()  # from inside a running event loop, as `modelbus up` does
        assert postgres.ran_initdb
        processes = process_tree(postgres.pid) + process_tree(broker.pid)

        await postgres_round_trip(postgres.url)
        await kafka_round_trip(broker.bootstrap)

        broker.stop()
        postgres.stop()
        _, alive = psutil.wait_procs(processes, timeout=5)
        assert alive == [], f"left behind: {alive}"

        # A second start reuses the cluster: no initdb, and the data is still there.
        postgres.start()
        assert not postgres.ran_initdb
        conn = await asyncpg.connect(postgres.url)
        try:
            assert await conn.fetchval("select note from kept") == "survives a restart"
        finally:
            await conn.close()
        restarted = process_tree(postgres.pid)
        postgres.stop()
        _, alive = psutil.wait_procs(restarted, timeout=5)
        assert alive == [], f"left behind: {alive}"
    finally:
        broker.stop()
        postgres.stop()
