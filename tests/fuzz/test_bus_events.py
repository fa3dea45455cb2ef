"""Generated bad events on every topic a service consumes, through the running services.

For each consumed topic, hypothesis draws records of these kinds: not JSON (bytes, text,
empty, a tombstone), JSON that is no event, an envelope with fields missing or of the
wrong type, an unknown type, another topic's event, a payload with fields missing, of the
wrong type or unknown, an oversize value, and a valid envelope with a semantically bad
payload (unknown models, negative and absurd numbers, odd unicode). Keys and headers are
hostile too (control characters, NUL, invalid UTF-8, long). All are sent at once; then one
good event goes to every partition of the topic.

The oracle for "bad" is the consumer's own decoding step (``BatchProcessor.decode``):
every record it refuses must reach ``<topic>.dlq`` once per consuming service with
``modelbus.dlq.error_message``; a record it accepts must be applied or dead-lettered with a
reason. Either way each service's inbox must show it handled, and the good events behind
the batch must be applied: no consumer stalls. The session fixture checks that no
service's background task died.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from dataclasses import dataclass
from typing import Any

import asyncpg
import orjson
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.bus.consumer import BatchProcessor, DeadLetter, Decoded
from shared.bus.kafka import TOPIC_MAX_MESSAGE_BYTES
from shared.bus.stream import stream_group
from shared.events.common import ArtifactRef, Payload
from shared.events.envelope import CONTENT_TYPE, encode, new_event
from shared.events.signing import DecisionVerifier
from shared.events.topics import TOPICS, Topic
from shared.events.training import DatasetSpec, TrainingRequested
from tests.fuzz.conftest import examples
from tests.fuzz.platform import SERVICES, Platform
from tests.fuzz.tally import TALLY
from tests.support.bus import kafka_options
from tests.support.events import DECISION_KEY, SAMPLES, signed

# Generous: the first test also waits for the platform to start on a loaded machine.
pytestmark = [pytest.mark.fuzz, pytest.mark.timeout(900)]

CONSUMED = [t for t in TOPICS.values() if any(c in SERVICES for c in t.consumers)]
PER_TOPIC = 150  # bad records per topic at MODELBUS_FUZZ_SCALE=1
OVERSIZE_PER_TOPIC = 2


@dataclass
class Sent:
    kind: str
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes]]
    partition: int = -1
    offset: int = -1

    @property
    def topic_free_id(self) -> str:
        return f"{self.partition}:{self.offset}"


@dataclass
class _Record:  # what BatchProcessor.decode reads of a consumer record
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes]]


def sample(topic: Topic) -> Payload:
    """The topic's sample; a training request's dataset is one no trainer may read, so that
    the good ones are refused at once instead of each fitting a model."""
    payload = SAMPLES[topic.name]
    if isinstance(payload, TrainingRequested):
        refused = ArtifactRef(uri="file:///fuzz/not-allowed.csv", sha256="ab" * 32, size=10)
        return payload.model_copy(update={"dataset": DatasetSpec(artifact=refused, format="csv")})
    return payload


def sample_doc(topic: Topic) -> dict[str, Any]:
    doc: dict[str, Any] = orjson.loads(encode(new_event(sample(topic), source="fuzz")))
    return doc


hostile_text = st.text(
    alphabet=st.characters(codec="utf-8", blacklist_categories=["Cs"]), max_size=40
) | st.sampled_from(["\x00", "a\x00b", "\u202e", "\ufeff", "💥" * 50, "\\u0000", "x" * 5000])
numbers = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([-1, 0, -1e308, 1e308, 2**63, -(2**63), 5e-324]),
)
garbage = st.recursive(
    st.one_of(st.none(), st.booleans(), numbers, hostile_text),
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(hostile_text, children, max_size=4)
    ),
    max_leaves=20,
)
not_a_string = st.one_of(
    st.lists(garbage, min_size=1, max_size=3), st.dictionaries(hostile_text, garbage, min_size=1)
)
keys = st.one_of(
    st.none(),
    st.binary(max_size=40),
    hostile_text.map(lambda s: s.encode()),
    st.just(b"k" * 2000),
)
headers = st.lists(
    st.tuples(hostile_text, st.one_of(st.binary(max_size=40), st.just(b"\x00\xff"), st.none())),
    max_size=4,
)


def _mutate_numbers(value: Any, draw: st.DrawFn) -> Any:
    """Every number in ``value`` replaced by an absurd one, every string by hostile text."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return draw(numbers)
    if isinstance(value, str):
        return draw(st.one_of(st.just(value), hostile_text))
    if isinstance(value, list):
        return [_mutate_numbers(v, draw) for v in value]
    if isinstance(value, dict):
        return {k: _mutate_numbers(v, draw) for k, v in value.items()}
    return value


@st.composite
def bad_record(draw: st.DrawFn, topic: Topic) -> Sent:
    kind = draw(
        st.sampled_from(
            [
                "not-json",
                "not-an-event",
                "envelope",
                "unknown-type",
                "wrong-topic",
                "payload-missing",
                "payload-types",
                "payload-unknown-field",
                "semantic",
                "semantic",
                "semantic",
            ]
        )
    )
    doc = sample_doc(topic)
    doc["id"] = f"fuzz-{draw(st.uuids()).hex}"
    value: bytes | None
    if kind == "not-json":
        value = draw(
            st.one_of(
                st.none(),
                st.just(b""),
                st.binary(max_size=100),
                hostile_text.map(str.encode),
                st.just(encode(new_event(sample(topic), source="fuzz"))[:-3]),
            )
        )
    elif kind == "not-an-event":
        value = _json(draw(st.one_of(garbage, st.lists(st.just(doc), max_size=2))))
    else:
        if kind == "envelope":
            field = draw(st.sampled_from(["id", "source", "type", "time", "correlationid",
                                          "specversion", "data"]))  # fmt: skip
            if draw(st.booleans()):
                doc.pop(field)
            else:
                doc[field] = draw(not_a_string)
        elif kind == "unknown-type":
            doc["type"] = draw(
                st.one_of(hostile_text, st.just(topic.event_type.replace(".v1", ".v2")))
            )
        elif kind == "wrong-topic":
            other = draw(st.sampled_from([t for t in TOPICS.values() if t is not topic]))
            doc = sample_doc(other) | {"id": doc["id"]}
        elif kind == "payload-missing":
            field = draw(st.sampled_from(sorted(doc["data"])))
            doc["data"].pop(field)
        elif kind == "payload-types":
            field = draw(st.sampled_from(sorted(doc["data"])))
            doc["data"][field] = draw(st.one_of(not_a_string, garbage))
        elif kind == "payload-unknown-field":
            doc["data"][draw(hostile_text.filter(lambda s: s not in doc["data"]))] = draw(garbage)
        else:  # semantic: the right shape, absurd content
            data = _mutate_numbers(doc["data"], draw)
            data["model_name"] = draw(
                st.one_of(st.uuids().map(lambda u: f"unknown-{u.hex[:8]}"), hostile_text)
            )
            doc["data"] = data
            doc["subject"] = draw(st.one_of(st.none(), hostile_text))
        value = _json(doc)
    key = draw(keys)
    if value is None and key is None:
        key = b"tombstone"  # a record needs one of them
    return Sent(kind, key, value, draw(headers))


def _json(doc: Any) -> bytes:
    """JSON as any producer may write it: integers of any size (orjson stops at 64 bits)."""
    return json.dumps(doc, ensure_ascii=False).encode()


def oversize(topic: Topic, limit: int) -> Sent:
    doc = sample_doc(topic)
    doc["id"] = f"fuzz-{uuid.uuid4().hex}"
    doc["padding"] = "x" * (limit + 1024)  # an extension attribute: only its size is wrong
    return Sent("oversize", b"big", orjson.dumps(doc), [])


def draw_batch(topic: Topic, n: int) -> list[Sent]:
    drawn: list[Sent] = []

    @settings(max_examples=n)
    @given(record=bad_record(topic))
    def collect(record: Sent) -> None:
        drawn.append(record)

    collect()
    return drawn


@pytest.mark.parametrize("topic", CONSUMED, ids=lambda t: t.name)
async def test_bad_events_are_dead_lettered_with_a_reason_and_nothing_stalls(
    platform: Platform, topic: Topic
) -> None:
    bootstrap = platform.settings.kafka_bootstrap
    limit = platform.settings.kafka_max_message_bytes
    consumers = [c for c in topic.consumers if c in SERVICES]
    batch = draw_batch(topic, examples(PER_TOPIC))
    batch += [oversize(topic, limit) for _ in range(OVERSIZE_PER_TOPIC)]

    producer = AIOKafkaProducer(
        **kafka_options(bootstrap), acks="all", max_request_size=TOPIC_MAX_MESSAGE_BYTES
    )
    await producer.start()
    try:
        futures = [
            await producer.send(topic.name, s.value, key=s.key, headers=s.headers) for s in batch
        ]
        for sent, future in zip(batch, futures, strict=True):
            meta = await future
            sent.partition, sent.offset = meta.partition, meta.offset
        partitions = sorted(await producer.partitions_for(topic.name))
        goods = []
        placed: dict[str, tuple[int, int]] = {}  # id -> (partition, offset), of every record
        for partition in partitions:
            good = sample(topic)
            if topic.signed:
                # Governance orders one model's decisions on its own partition; a model per
                # partition keeps each good decision the newest for its model.
                model = f"fuzz-good-{partition}-{uuid.uuid4().hex[:8]}"
                event = signed(
                    new_event(good.model_copy(update={"model_name": model}), source="fuzz")
                )
            else:
                event = new_event(good, source="fuzz")
            meta = await producer.send_and_wait(
                topic.name,
                encode(event),
                key=event.key.encode(),
                partition=partition,
                headers=[("content-type", CONTENT_TYPE.encode())],
            )
            goods.append(event.id)
            placed[event.id] = (meta.partition, meta.offset)
    finally:
        await producer.stop()
    TALLY.tried("bus", topic.name, len(batch))

    decoder = BatchProcessor(None, service="fuzz", consumer="fuzz", handlers={},  # type: ignore[arg-type]
                             max_event_bytes=limit,
                             verifier=DecisionVerifier.of([DECISION_KEY]))  # fmt: skip
    claims: dict[str, Sent] = {}  # inbox id -> record
    refused: list[Sent] = []
    for sent in batch:
        decoded = decoder.decode(
            _Record(topic.name, sent.partition, sent.offset, sent.key, sent.value, sent.headers)
        )
        if isinstance(decoded, DeadLetter):
            claims[f"dlq:{topic.name}:{sent.partition}:{sent.offset}"] = sent
            refused.append(sent)
        else:
            assert isinstance(decoded, Decoded)
            claims[decoded.event.id] = sent
    placed.update({i: (sent.partition, sent.offset) for i, sent in claims.items()})
    for sent in batch:  # these kinds can never be an event of this topic
        if sent.kind in ("not-json", "unknown-type", "wrong-topic", "oversize"):
            assert sent in refused, (
                f"{topic.name}: a {sent.kind} record decoded as an event: {sent.value!r:.300}"
            )

    conn = await asyncpg.connect(platform.settings.database_url)
    try:
        for service in consumers:
            missing = await _await_claims(
                conn, service, topic.name, [*claims, *goods], placed, timeout=180
            )
            stalled = [i for i in missing if i in goods]
            lost = [claims[i] for i in missing if i in claims]
            for i in stalled:
                TALLY.failed("bus", topic.name, f"{service}: good event {i} not applied")
            for sent in lost:
                TALLY.failed(
                    "bus", topic.name,
                    f"{service}: {sent.kind} record at {sent.topic_free_id} never handled: "
                    f"key={sent.key!r:.80} headers={sent.headers!r:.200} value={sent.value!r:.300}",
                )  # fmt: skip
    finally:
        await conn.close()

    letters = await _dead_letters(
        bootstrap,
        topic,
        {s.topic_free_id for s in refused},
        {s.topic_free_id for s in batch},
        consumers,
    )
    TALLY.dead_lettered[("bus", topic.name)] += len({w for _, w in letters})
    for sent in refused:
        for service in consumers:
            reason = letters.get((service, sent.topic_free_id))
            if not reason:
                TALLY.failed(
                    "bus", topic.name,
                    f"{service}: refused {sent.kind} record at {sent.topic_free_id} has no "
                    f"dead letter with a reason: value={sent.value!r:.300}",
                )  # fmt: skip

    failures = TALLY.failures.get(("bus", topic.name), [])
    assert not failures, f"{len(failures)} failures; first: {failures[:3]}"


async def _await_claims(
    conn: asyncpg.Connection,
    service: str,
    topic: str,
    ids: list[str],
    placed: dict[str, tuple[int, int]],
    *,
    timeout: float,
) -> list[str]:
    """The ids ``service`` has not handled at the deadline (empty: all handled).

    An inbox consumer claims each id in its inbox; a stream consumer (``shared/bus/stream.py``)
    keeps one offset per partition with the state, so a record is handled once the stored
    offset of its partition is past it."""
    deadline = time.monotonic() + timeout
    missing = ids
    while missing and time.monotonic() < deadline:
        rows = await conn.fetch(
            f'SELECT event_id FROM "{service}".inbox WHERE event_id = ANY($1::text[])', missing
        )
        found = {r["event_id"] for r in rows}
        offsets = {
            r["partition"]: r["next_offset"]
            for r in await conn.fetch(
                f'SELECT partition, next_offset FROM "{service}".stream_offsets'
                " WHERE consumer = $1 AND topic = $2",
                stream_group(service, topic),
                topic,
            )
        }
        found |= {i for i in missing if placed[i][1] < offsets.get(placed[i][0], -1)}
        missing = [i for i in missing if i not in found]
        if missing:
            await asyncio.sleep(0.5)
    return missing


async def _dead_letters(
    bootstrap: str, topic: Topic, required: set[str], wanted: set[str], consumers: list[str]
) -> dict[tuple[str, str], str]:
    """(consuming service, partition:offset) -> error message of the ``wanted`` records'
    dead letters on ``<topic>.dlq``, read until every ``required`` record has one from each
    consumer and the topic is read to its end (or a deadline passes)."""
    found: dict[tuple[str, str], str] = {}
    consumer = AIOKafkaConsumer(
        topic.dead_letter,
        **kafka_options(bootstrap),
        group_id=f"fuzz-{uuid.uuid4().hex}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        max_partition_fetch_bytes=TOPIC_MAX_MESSAGE_BYTES,
        fetch_max_bytes=4 * TOPIC_MAX_MESSAGE_BYTES,
    )
    await consumer.start()
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline:
            fetched = await consumer.getmany(timeout_ms=1000)
            for records in fetched.values():
                for record in records:
                    h = {k: v.decode("utf-8", "replace") for k, v in record.headers}
                    where = f"{h.get('modelbus.dlq.partition')}:{h.get('modelbus.dlq.offset')}"
                    service = h.get("modelbus.dlq.consumer", "").split("-")[0]
                    if h.get("modelbus.dlq.topic") == topic.name and where in wanted:
                        found[(service, where)] = h.get("modelbus.dlq.error_message", "")
            complete = all((c, w) in found for c in consumers for w in required)
            if complete and not fetched:
                break
    finally:
        await consumer.stop()
    return found
