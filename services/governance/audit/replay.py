"""Rebuilding governance's log and inventory from the topics, into a fresh schema.

Every topic governance audits is read from offset 0 up to the end offsets seen at the
start. Events live governance would dead-letter (undecodable, or decisions that are not
signed by a trusted key) are skipped; duplicates (the same event id twice, e.g.
republished by a relay) count once. Nothing is decided and
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

Staging goes through a temporary table (:mod:`..store.replay_staging`) so that memory does
not grow with the topics.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from aiokafka import AIOKafkaConsumer, TopicPartition

from services.governance.audit.log import AuditLog
from services.governance.recording import record
from services.governance.store import audit_log, replay_staging
from shared.bus.kafka import admin_client, client_options
from shared.errors import Conflict, InvalidEvent, Unavailable
from shared.events.envelope import decode
from shared.events.signing import DecisionVerifier
from shared.events.topics import SIGNED
from shared.settings import Settings
from shared.store.db import Connection


async def _partitions(settings: Settings, topics: Sequence[str]) -> list[TopicPartition]:
    admin = admin_client(settings)
    await admin.start()
    try:
        described = await admin.describe_topics(list(topics))
    finally:
        await admin.close()
    return [TopicPartition(t["topic"], p["partition"]) for t in described for p in t["partitions"]]


# How long the topics may give nothing while some partition is short of its end offset:
# past it the broker is gone or the partition unreadable, and the rebuild stops with a
# reason instead of waiting forever.
STALL_S = 60.0


async def _stage(
    conn: Connection,
    settings: Settings,
    topics: Sequence[str],
    service: str,
    verifier: DecisionVerifier,
    stall_s: float,
) -> None:
    partitions = await _partitions(settings, topics)
    consumer = AIOKafkaConsumer(
        **client_options(settings),
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
        last_progress = time.monotonic()
        while remaining:
            rows = []
            fetched = await consumer.getmany(*remaining, timeout_ms=500)
            if fetched:
                last_progress = time.monotonic()
            elif time.monotonic() - last_progress > stall_s:
                raise Unavailable(
                    f"the broker returned nothing for {stall_s:.0f} s while "
                    f"{len(remaining)} partition(s) were short of their end offsets"
                )
            for tp, records in fetched.items():
                for message in records:
                    if message.offset >= ends[tp]:
                        continue
                    try:
                        event = decode(message.value)
                        if tp.topic in SIGNED:
                            verifier.verify(event)
                    except InvalidEvent:
                        continue  # the live consumer dead-letters it; it is never audited
                    own = event.source == f"/modelbus/{service}"
                    rows.append((event.time, event.id, message.value, own, event.causationid))
            if rows:
                await replay_staging.add(conn, rows)
            for tp in list(remaining):
                if await consumer.position(tp) >= ends[tp]:
                    remaining.discard(tp)
    finally:
        await consumer.stop()
    await replay_staging.mark_caused(conn)


async def replay(
    conn: Connection,
    settings: Settings,
    log: AuditLog,
    topics: Sequence[str],
    *,
    service: str,
    verifier: DecisionVerifier,
    batch: int = 500,
    stall_s: float = STALL_S,
) -> int:
    """Record every event of ``topics`` into ``conn``'s (empty) schema; return how many.

    ``service`` is the name live governance ran under: its events are its decisions.
    """
    if not await audit_log.is_empty(conn):
        raise Conflict("replay needs a fresh schema: this one's audit log is not empty")
    await replay_staging.create(conn)
    try:
        await _stage(conn, settings, topics, service, verifier, stall_s)
        recorded, cursor = 0, (None, None)
        while roots := await replay_staging.roots(conn, cursor, batch):
            children = await replay_staging.caused_by(conn, [r["event_id"] for r in roots])
            async with conn.transaction():
                for root in roots:
                    for value in (root["value"], *children.get(root["event_id"], [])):
                        recorded += await record(conn, decode(value), log) is not None
            cursor = (roots[-1]["time"], roots[-1]["event_id"])
        return recorded
    finally:
        await replay_staging.drop(conn)
