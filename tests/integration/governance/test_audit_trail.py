"""The audit trail of one model's lifecycle, read the two ways an auditor can.

* An independent consumer (plain aiokafka + the CloudEvents SDK, no modelbus code) reads
  ``governance.audit`` from the beginning and rebuilds the model's exact lifecycle, checking
  the hash chain with nothing but hashlib and json.
* Replaying every audited topic from offset 0 into a fresh schema rebuilds the same chain.
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import asyncpg
import pytest
import pytest_asyncio
from aiokafka import AIOKafkaConsumer
from cloudevents.core.bindings.kafka import KafkaMessage, from_structured_event

from services.governance import audit_tools
from services.governance.settings import GovernanceSettings
from shared.events.envelope import Event, encode
from shared.settings import Settings
from tests.integration.governance.conftest import AUDIT_KEY, FOREIGN_REPLIES, LOOP, Governance
from tests.support.bus import kafka_options
from tests.support.events import deployed, drift, registered, trained

pytestmark = [pytest.mark.integration, LOOP]

MEDIUM = {"risk_tier": "medium", "team": "fraud", "description": "Flags card fraud"}
LIFECYCLE = [  # (action, actor, version)
    ("training.completed", "trainer", None),
    ("model.registered", "reggie", 1),
    ("review.requested", "policy", 1),
    ("model.approved", "ann", 1),
    ("model.deployed", "deployer", 1),
    ("model.deployed", "deployer", 1),
    ("drift.detected", "monitor", 1),
    ("model.suspended", "root", 1),
]


@dataclass
class Lived:
    name: str
    published: list[Event[Any]]  # what the test itself published, in order
    batched: str  # a model whose two versions were registered at once


def _digest(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


@pytest_asyncio.fixture(scope="module", loop_scope="package")
async def lived(governance: Governance) -> Lived:
    """One model's whole lifecycle, each step published once the previous one is audited, as a
    causal lifecycle arrives."""
    name = f"life-{uuid.uuid4().hex[:10]}"
    published: list[Event[Any]] = []

    async def step(payload: Any, source: str) -> None:
        [event] = await governance.publish(payload, source=source)
        published.append(event)
        await governance.wait_for(lambda: governance.audited(event), f"{source} event audited")

    await step(trained(name), "trainer")
    await step(registered(name, metadata=MEDIUM, registered_by="reggie"), "registry")
    await governance.wait_for(lambda: _is(governance, name, "in_review"), "review requested")
    async with governance.client("ann") as ann:
        assert (await ann.post(f"/v1/models/{name}/versions/1/approve")).json()["status"] == (
            "approved"
        )
    await step(deployed(name, 1, "canary", 0.2), "deployer")
    # Full traffic by a second deployment: a promotion without a previous version cannot be
    # published today (envelope.encode drops None, ModelPromoted requires previous_version).
    await step(deployed(name, 1, "stable", 1.0), "deployer")
    await step(drift(name, 1), "monitor")
    async with governance.client("root") as root:
        await root.post(f"/v1/models/{name}/versions/1/suspend", json={"reason": "drift"})

    # Both registrations reach governance in one batch; each decision is recorded right after
    # its registration, before the next registration (whose event time is earlier).
    batched = f"batch-{uuid.uuid4().hex[:10]}"
    await governance.publish(registered(batched, 1), registered(batched, 2))
    await governance.next_event("model.approved", batched, count=2)
    return Lived(name, published, batched)


async def _is(governance: Governance, name: str, status: str) -> bool:
    return await governance.status(name, 1) == status


async def test_an_independent_consumer_rebuilds_the_lifecycle(
    governance: Governance, lived: Lived
) -> None:
    consumer = AIOKafkaConsumer(
        "governance.audit",
        **kafka_options(governance.bootstrap),
        group_id=f"auditor-{uuid.uuid4().hex}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    records: list[dict[str, Any]] = []
    deadline = time.monotonic() + 30
    try:
        while len([r for r in records if r["action"] not in FOREIGN_REPLIES]) < len(LIFECYCLE):
            assert time.monotonic() < deadline, f"only {len(records)} audit records arrived"
            for messages in (await consumer.getmany(timeout_ms=200)).values():
                for m in messages:
                    cloud_event = from_structured_event(
                        KafkaMessage(headers=dict(m.headers), key=m.key, value=m.value)
                    )
                    data = cloud_event.get_data()
                    if data["model_name"] == lived.name:
                        assert cloud_event.get_type() == "io.modelbus.governance.audit.v1"
                        assert cloud_event.get_subject() == lived.name
                        records.append(data)
    finally:
        await consumer.stop()

    lifecycle = [r for r in records if r["action"] not in FOREIGN_REPLIES]
    assert [(r["action"], r["actor"], r.get("version")) for r in lifecycle] == LIFECYCLE
    previous = "0" * 64
    for position, record in enumerate(records, start=1):  # the chain links every record
        assert (record["model_seq"], record["prev_hash"]) == (position, previous)
        body = {k: v for k, v in record.items() if k not in ("seq", "hash")}
        assert _digest(body) == record["hash"], f"record {position} does not hash"
        previous = record["hash"]
    assert [r["seq"] for r in records] == sorted(r["seq"] for r in records)
    by_event = {r["event_id"]: r for r in records}
    for event in lived.published:  # the trail pins each payload exactly as it was published
        wire = json.loads(encode(event))["data"]
        assert by_event[event.id]["payload_sha256"] == _digest(wire)
    approved = lifecycle[3]["summary"]
    assert approved["approvers"] == ["ann"] and approved["policy"] == "default"
    assert lifecycle[1]["summary"]["artifact_sha256"] == lived.published[1].data.artifact.sha256


@pytest_asyncio.fixture(loop_scope="package")
async def rebuilt(
    database_url: str, kafka_bootstrap: str, unique: str
) -> AsyncIterator[tuple[int, asyncpg.Connection]]:
    """``modelbus audit rebuild``'s work: every audited topic replayed into a fresh schema."""
    schema = f"governance_replay_{unique}"
    settings = Settings(database_url=database_url, kafka_bootstrap=kafka_bootstrap)
    own = GovernanceSettings(audit_key=AUDIT_KEY, checkpoint_every=1000)  # type: ignore[arg-type]
    try:
        count = await audit_tools.rebuild(settings, own, schema)
        conn = await asyncpg.connect(database_url, server_settings={"search_path": schema})
        try:
            yield count, conn
        finally:
            await conn.close()
    finally:
        conn = await asyncpg.connect(database_url)
        await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        await conn.close()


async def test_replaying_the_topics_into_a_fresh_schema_rebuilds_the_same_chain(
    governance: Governance, lived: Lived, rebuilt: tuple[int, asyncpg.Connection]
) -> None:
    assert governance.service.infra is not None
    live = governance.service.infra.pool
    count, fresh = rebuilt
    assert count >= len(LIFECYCLE)
    query = "SELECT model_seq, action, hash FROM audit_log WHERE model_name = $1 ORDER BY model_seq"
    for model, steps in (
        (lived.name, [a for a, _, _ in LIFECYCLE]),
        (lived.batched, ["model.registered", "model.approved"] * 2),
    ):
        original = [tuple(r) for r in await live.fetch(query, model)]
        assert [a for _, a, _ in original if a not in FOREIGN_REPLIES] == steps
        last = max(i for i, (_, a, _) in enumerate(original) if a == steps[-1]) + 1
        rebuilt_chain = [tuple(r) for r in await fresh.fetch(query, model)]
        # The same chain up to the lifecycle's last step, its hash included (later replies
        # from other services may be on the topics or not yet, depending on timing).
        assert rebuilt_chain[:last] == original[:last]
    status = "SELECT status FROM versions WHERE model_name = $1"
    assert await fresh.fetchval(status, lived.name) == "suspended"
    assert await fresh.fetchval("SELECT count(*) FROM outbox") == 0  # nothing re-announced
