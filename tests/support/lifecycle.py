"""What a closed loop left behind, read back to check that each effect happened once.

Delivery is at least once: a relay or a consumer that dies at the wrong moment sends or
sees an event again, under the same event id. That is harmless. A *duplicate effect* is
different: the same lifecycle step done twice, so a second event with a new id (a second
registration of one version, a second approval, a second promotion), or a second row
for one cause in a service's tables.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer, TopicPartition

from shared.events.envelope import Event, decode
from tests.support.bus import kafka_options

# Each of these happens once per version (per arm for deployments, per request for a
# training outcome) in one closed loop.
ONCE_PER_VERSION = (
    "training.completed",
    "model.registered",
    "model.approved",
    "model.deployed",
    "model.promoted",
)
LIFECYCLE_TOPICS = (*ONCE_PER_VERSION, "training.requested", "drift.detected")


async def model_events(bootstrap: str, model_name: str) -> list[tuple[str, Event[Any]]]:
    """Every record about ``model_name`` on the lifecycle topics, from the beginning."""
    consumer = AIOKafkaConsumer(**kafka_options(bootstrap), enable_auto_commit=False)
    await consumer.start()
    found: list[tuple[str, Event[Any]]] = []
    try:
        partitions = [
            TopicPartition(topic, p)
            for topic in LIFECYCLE_TOPICS
            for p in sorted(await _partitions(consumer, topic))
        ]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        pending = {tp for tp in partitions if ends[tp] > 0}
        while pending:
            for tp, records in (await consumer.getmany(*pending, timeout_ms=1000)).items():
                for record in records:
                    if record.key == model_name.encode():
                        found.append((tp.topic, decode(record.value)))
                if await consumer.position(tp) >= ends[tp]:
                    pending.discard(tp)
    finally:
        await consumer.stop()
    return found


async def _partitions(consumer: AIOKafkaConsumer, topic: str) -> set[int]:
    partitions = consumer.partitions_for_topic(topic)
    if partitions is None:
        await consumer._client.force_metadata_update()
        partitions = consumer.partitions_for_topic(topic) or set()
    return set(partitions)


def redeliveries(events: list[tuple[str, Event[Any]]]) -> int:
    """Records that repeat an event id already on the bus (at-least-once, harmless)."""
    counts = Counter((topic, e.id) for topic, e in events)
    return sum(n - 1 for n in counts.values())


def duplicated_effects(events: list[tuple[str, Event[Any]]]) -> dict[str, int]:
    """Lifecycle steps done more than once: ``topic v<version>[/<arm>]`` -> distinct ids."""
    ids: dict[str, set[str]] = defaultdict(set)
    for topic, event in events:
        if topic in ONCE_PER_VERSION:
            # A training outcome has no version yet: once per training request.
            data = event.data
            which = f"v{data.version}" if hasattr(data, "version") else f"request {data.request_id}"
            arm = getattr(data, "arm", None)
            ids[f"{topic} {which}" + (f"/{arm}" if arm else "")].add(event.id)
    return {step: len(found) for step, found in ids.items() if len(found) > 1}


async def duplicated_rows(database_url: str, model_name: str) -> dict[str, int]:
    """Rows of the services' tables that record one cause twice, by what they are."""
    checks = {
        # One audit record per event governance consumed.
        "governance audit records per event id": """
            SELECT count(*) - count(DISTINCT event_id) FROM governance.audit_log
            WHERE model_name = $1""",
        # One registered version per training outcome.
        "registry versions per registering event": """
            SELECT count(*) - count(DISTINCT event_id) FROM registry.versions
            WHERE model_name = $1""",
        # One training job per request.
        "trainer jobs per request": """
            SELECT count(*) - count(DISTINCT request_id) FROM trainer.jobs
            WHERE model_name = $1""",
        # A window counts each prediction it holds once: its count is the rows it holds.
        "monitor window counts beyond their predictions": """
            SELECT coalesce(sum(abs(w.count - held.n)), 0) FROM monitor.windows w
            JOIN (SELECT window_id, count(*) AS n FROM monitor.predictions
                  WHERE model_name = $1 AND window_id IS NOT NULL GROUP BY window_id) held
              ON held.window_id = w.id
            WHERE w.model_name = $1 AND w.kind = 'data' AND w.closed_at IS NOT NULL""",
        # One approval-driven desired state per version at the deployer.
        "deployer versions per approval": """
            SELECT count(*) - count(DISTINCT approval_id) FROM deployer.versions
            WHERE model_name = $1""",
    }
    conn = await asyncpg.connect(database_url)
    try:
        found = {
            what: int(await conn.fetchval(sql, model_name) or 0) for what, sql in checks.items()
        }
    finally:
        await conn.close()
    return {what: n for what, n in found.items() if n}
