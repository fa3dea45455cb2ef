"""Dead letters: each bad record gives one record on ``<topic>.dlq`` with the reason in its
headers, the next good event on the partition is applied, and the offsets are committed."""

from __future__ import annotations

from typing import Any

import asyncpg
import orjson
import pytest

from shared.bus.consumer import BatchProcessor
from shared.bus.kafka import TOPIC_MAX_MESSAGE_BYTES
from shared.bus.unit_of_work import UnitOfWork
from shared.errors import InvalidInput
from shared.events.envelope import Event, encode
from shared.settings import Settings
from tests.integration.bus.harness import (
    TOPIC,
    assert_applied_exactly_once,
    drained,
    metrics_event,
    processor,
    record_of,
    recording_handler,
    seq_of,
)
from tests.integration.bus.kafka_io import (
    caught_up,
    consuming,
    end_offsets,
    produce,
    read_topic,
    relaying,
    start_group_at_end,
)
from tests.support.polling import eventually

pytestmark = pytest.mark.integration


def _event_doc(key: str) -> dict[str, Any]:
    doc: dict[str, Any] = orjson.loads(encode(metrics_event(key, 0)))
    return doc


def bad_values(key: str) -> dict[str, tuple[bytes, str]]:
    """Bad value -> a phrase its dead letter's error message must contain."""
    schema_violation = _event_doc(key)
    del schema_violation["data"]["version"]
    unknown_type = _event_doc(key)
    unknown_type["type"] = "io.modelbus.monitor.unheard_of.v1"
    return {
        "not JSON": (b"\x00\x9f<xml>not json</xml>", "value is not JSON"),
        "schema": (orjson.dumps(schema_violation), "data.version: Field required"),
        "unknown type": (orjson.dumps(unknown_type), "unknown event type"),
        "2 MB": (b"x" * (2 * 1024 * 1024), "exceeds the event limit of 1048576 bytes"),
    }


async def test_each_bad_record_becomes_one_dead_letter_and_the_partition_moves_on(
    bus_settings: Settings, pool: asyncpg.Pool, schema: str
) -> None:
    bootstrap = bus_settings.kafka_bootstrap
    await start_group_at_end(bootstrap, schema)
    dlq_since = await end_offsets(bootstrap, TOPIC.dead_letter)
    bad = bad_values(schema)
    # One key, so one partition: each bad record is followed by a good event behind it.
    goods = [metrics_event(schema, seq) for seq in range(len(bad))]
    items: list[Any] = []
    for (value, _), good in zip(bad.values(), goods, strict=True):
        items += [(schema.encode(), value), good]

    async with (
        consuming(bus_settings, processor(pool, schema)),
        relaying(bus_settings, pool, schema),
    ):
        sent = await produce(bootstrap, *items)
        await caught_up(bootstrap, schema, sent)  # committed past every record
        await eventually(lambda: drained(pool), what="dead letters published")

    await assert_applied_exactly_once(pool, goods)
    letters = [
        r
        for r in await read_topic(bootstrap, TOPIC.dead_letter, dlq_since)
        if ("modelbus.dlq.consumer", schema.encode()) in r.headers
    ]
    bad_records = sent[0::2]
    assert len(letters) == len(bad)
    for letter, original, (name, (value, reason)) in zip(
        letters, bad_records, bad.items(), strict=True
    ):
        headers = {k: v.decode() for k, v in letter.headers}
        assert headers["modelbus.dlq.topic"] == TOPIC.name, name
        assert headers["modelbus.dlq.partition"] == str(original.partition), name
        assert headers["modelbus.dlq.offset"] == str(original.offset), name
        assert headers["modelbus.dlq.error_class"] == "InvalidEvent", name
        assert reason in headers["modelbus.dlq.error_message"], name
        assert (letter.key, letter.value) == (schema.encode(), value), name


async def dead_letter_rows(pool: asyncpg.Pool) -> list[dict[str, str]]:
    rows = await pool.fetch(
        "SELECT headers FROM outbox WHERE topic = $1 ORDER BY id", TOPIC.dead_letter
    )
    return [orjson.loads(r["headers"]) for r in rows]


async def test_a_redelivered_bad_record_is_dead_lettered_once(
    pool: asyncpg.Pool, schema: str
) -> None:
    bad = record_of(b"not json", partition=1, offset=5)
    consumer = processor(pool, schema)
    await consumer.process([bad])
    await consumer.process([bad])
    assert [h["modelbus.dlq.offset"] for h in await dead_letter_rows(pool)] == ["5"]


async def test_a_handler_refusing_one_event_dead_letters_that_event_alone(
    pool: asyncpg.Pool, schema: str
) -> None:
    events = [metrics_event(schema, seq) for seq in range(3)]
    record_effect = recording_handler()

    async def refuse_seq_1(event: Event[Any], uow: UnitOfWork) -> None:
        await record_effect(event, uow)
        if seq_of(event) == 1:
            raise InvalidInput("seq 1 is not acceptable")

    picky = BatchProcessor(
        pool, service=schema, consumer=schema, handlers={TOPIC.name: refuse_seq_1}
    )
    await picky.process([record_of(encode(e), partition=1, offset=i) for i, e in enumerate(events)])

    await assert_applied_exactly_once(pool, [events[0], events[2]])
    [letter] = await dead_letter_rows(pool)
    assert letter["modelbus.dlq.offset"] == "1"
    assert letter["modelbus.dlq.error_class"] == "InvalidInput"
    assert letter["modelbus.dlq.error_message"] == "seq 1 is not acceptable"


async def test_a_value_at_the_topic_limit_is_dead_lettered_without_stalling_the_relay(
    bus_settings: Settings, pool: asyncpg.Pool, schema: str
) -> None:
    """The topic accepts a value the dead letter (value plus reason headers) would exceed."""
    bootstrap = bus_settings.kafka_bootstrap
    dlq_since = await end_offsets(bootstrap, TOPIC.dead_letter)
    huge = b"x" * (TOPIC_MAX_MESSAGE_BYTES - 200)
    good = metrics_event(schema, 1)
    await processor(pool, schema).process(
        [record_of(huge, offset=1, key=schema.encode()), record_of(encode(good), offset=2)]
    )

    async with relaying(bus_settings, pool, schema):
        await eventually(lambda: drained(pool), what="the dead letter published")

    await assert_applied_exactly_once(pool, [good])
    [letter] = [
        r
        for r in await read_topic(bootstrap, TOPIC.dead_letter, dlq_since, key=schema)
        if ("modelbus.dlq.consumer", schema.encode()) in r.headers
    ]
    headers = {k: v.decode() for k, v in letter.headers}
    assert headers["modelbus.dlq.value_truncated_from"] == str(len(huge))
    assert "exceeds the event limit" in headers["modelbus.dlq.error_message"]
    assert letter.value and huge.startswith(letter.value)


async def test_keys_headers_and_ids_postgres_cannot_store_are_dead_lettered_not_retried(
    pool: asyncpg.Pool, schema: str
) -> None:
    """Found by the fuzz tier: text with NUL (or bytes that are no UTF-8) in a record's key
    or headers, or in an event id, made the partition's transaction fail for good."""
    good = metrics_event(schema, 1)
    nul_id = orjson.loads(encode(metrics_event(schema, 0)))
    nul_id["id"] = "evil\x00id"
    records = [
        record_of(b"not json", offset=0, key=b"k\x00\xff"),
        record_of(b"not json", offset=1, headers=[("h\x00", b"v\x00\xff")]),
        record_of(orjson.dumps(nul_id), offset=2),
        record_of(encode(good), offset=3),
    ]
    await processor(pool, schema).process(records)

    await assert_applied_exactly_once(pool, [good])
    letters = await dead_letter_rows(pool)
    assert [h["modelbus.dlq.offset"] for h in letters] == ["0", "1", "2"]
    assert "NUL" in letters[2]["modelbus.dlq.error_message"]


async def test_a_header_that_is_no_utf8_fails_no_batch(
    bus_settings: Settings, pool: asyncpg.Pool, schema: str
) -> None:
    """Found by the fuzz tier: faststream decoded every header value of a batch strictly,
    so one value that was no UTF-8 (or null) failed the batch before the processor saw it,
    and the batch was fetched again forever."""
    bootstrap = bus_settings.kafka_bootstrap
    await start_group_at_end(bootstrap, schema)
    good = metrics_event(schema, 1)
    headers: list[tuple[str, bytes | None]] = [("binary", b"\xff\xfe"), ("null", None)]
    async with (
        consuming(bus_settings, processor(pool, schema)),
        relaying(bus_settings, pool, schema),
    ):
        sent = await produce(bootstrap, (schema.encode(), b"not json"), good, headers=headers)
        await caught_up(bootstrap, schema, sent)
        await eventually(lambda: drained(pool), what="the dead letter published")

    await assert_applied_exactly_once(pool, [good])
    [letter] = await dead_letter_rows(pool)
    assert (letter["binary"], letter["null"]) == ("\ufffd\ufffd", "")
    assert "not JSON" in letter["modelbus.dlq.error_message"]
