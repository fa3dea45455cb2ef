"""Rebuilding governance's log and inventory from the topics, into a fresh schema.

Every topic governance audits is read from offset 0 up to the end offsets seen at the
start. Events live governance would dead-letter (undecodable) are skipped; duplicates (the
same event id twice, e.g. republished by a relay) count once. Nothing is decided and
nothing is published: the decisions are already on the topics, and the rebuilt records
must not be announced twice.

Order. Live governance appends each consumed event as it arrives and, right after it, the
decisions it caused (which it records when it makes them). The replay reproduces that: it
takes every event not caused by another staged event by governance in event-time order
(ties by id), each followed at once by the governance decisions it caused, in time order.
Each model's chain therefore comes out hash for hash the same as the live one whenever the
live service received that model's events from other services in time order, which is what
a causal lifecycle (trained, registered, deployed, drifted...) gives. Decisions people make
over HTTP have no cause on the bus and take their place by time.

Staging goes through a temporary table so that memory does not grow with the topics.
"""

from __future__ import annotations

from collections import defaultdict

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from services.governance.audit.log import SOURCE, AuditLog
from services.governance.recording import record
from shared.errors import Conflict, InvalidEvent
from shared.events.envelope import decode
from shared.settings import Settings
from shared.store.db import Connection

_STAGE = """
CREATE TEMP TABLE replay_events (
    time timestamptz NOT NULL, event_id text PRIMARY KEY, value bytea NOT NULL,
    own boolean NOT NULL, causation text, caused boolean NOT NULL DEFAULT false
) ON COMMIT PRESERVE ROWS
"""
_ROOTS = """
SELECT time, event_id, value FROM replay_events
WHERE NOT caused AND ($1::timestamptz IS NULL OR (time, event_id) > ($1, $2))
ORDER BY time, event_id LIMIT $3
"""


async def _partitions(settings: Settings, topics: list[str]) -> list[TopicPartition]:
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    await admin.start()
    try:
        described = await admin.describe_topics(topics)
    finally:
        await admin.close()
    return [TopicPartition(t["topic"], p["partition"]) for t in described for p in t["partitions"]]


async def _stage(conn: Connection, settings: Settings, topics: list[str]) -> None:
    partitions = await _partitions(settings, topics)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap,
        group_id=None,
        enable_auto_commit=False,
        max_partition_fetch_bytes=8 << 20,
    )
    await consumer.start()
    try:
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        remaining = {tp for tp in partitions if ends[tp] > 0}
        while remaining:
            rows = []
            for tp, records in (await consumer.getmany(*remaining, timeout_ms=500)).items():
                for message in records:
                    if message.offset >= ends[tp]:
                        continue
                    try:
                        event = decode(message.value)
                    except InvalidEvent:
                        continue  # the live consumer dead-letters it; it is never audited
                    own = event.source == f"/modelbus/{SOURCE}"
                    rows.append((event.time, event.id, message.value, own, event.causationid))
            await conn.executemany(
                "INSERT INTO replay_events (time, event_id, value, own, causation)"
                " VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
                rows,
            )
            for tp in list(remaining):
                if await consumer.position(tp) >= ends[tp]:
                    remaining.discard(tp)
    finally:
        await consumer.stop()
    await conn.execute(
        "UPDATE replay_events r SET caused = true WHERE r.own AND EXISTS"
        " (SELECT 1 FROM replay_events c WHERE c.event_id = r.causation AND NOT c.own)"
    )


async def replay(
    conn: Connection, settings: Settings, log: AuditLog, topics: list[str], batch: int = 500
) -> int:
    """Record every event of ``topics`` into ``conn``'s (empty) schema; return how many."""
    if await conn.fetchval("SELECT count(*) FROM audit_log"):
        raise Conflict("replay needs a fresh schema: this one's audit log is not empty")
    await conn.execute(_STAGE)
    try:
        await _stage(conn, settings, topics)
        recorded, cursor = 0, (None, None)
        while roots := await conn.fetch(_ROOTS, *cursor, batch):
            children = defaultdict(list)
            for child in await conn.fetch(
                "SELECT causation, value FROM replay_events WHERE caused"
                " AND causation = ANY($1::text[]) ORDER BY time, event_id",
                [r["event_id"] for r in roots],
            ):
                children[child["causation"]].append(child["value"])
            async with conn.transaction():
                for root in roots:
                    for value in (root["value"], *children[root["event_id"]]):
                        recorded += await record(conn, decode(value), log, publish=False)
            cursor = (roots[-1]["time"], roots[-1]["event_id"])
        return recorded
    finally:
        await conn.execute("DROP TABLE IF EXISTS replay_events")
