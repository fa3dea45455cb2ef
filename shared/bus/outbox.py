"""Transactional outbox: events are written in the same transaction as the state they describe.

Nothing in modelbus publishes to Kafka directly after a commit; a crash between "commit"
and "publish" would lose the event. Instead :func:`add` inserts the encoded event into
``outbox`` on the caller's connection, inside the caller's transaction, and the relay
(:mod:`shared.bus.relay`) publishes it later. A rolled-back transaction publishes nothing.
"""

from __future__ import annotations

import zlib
from typing import Any

import orjson

from shared.bus.kafka import TOPIC_MAX_MESSAGE_BYTES
from shared.errors import PayloadTooLarge
from shared.events.envelope import CONTENT_TYPE, Event, encode
from shared.events.topics import BY_EVENT_TYPE
from shared.store.db import Connection

SLOTS = 64
# The largest key + value + headers the relay's producer sends (its max_request_size is the
# topic limit), less room for the record's own framing.
MAX_RECORD_BYTES = TOPIC_MAX_MESSAGE_BYTES - 16 * 1024
_COLUMNS = ("topic", "key", "slot", "value", "headers")
_INSERT = "INSERT INTO outbox (topic, key, slot, value, headers) VALUES ($1, $2, $3, $4, $5)"


def slot_of(key: str) -> int:
    """Stable slot of a key: all rows of one key share a slot, and a slot has one relay at a time."""
    return zlib.crc32(key.encode()) % SLOTS


def _row(topic: str, key: str, value: bytes, headers: dict[str, str]) -> tuple[Any, ...]:
    encoded_headers = orjson.dumps(headers).decode()
    size = len(value) + len(key.encode()) + len(encoded_headers)
    if size > MAX_RECORD_BYTES:
        # Refused here, in the writer's transaction: a row the relay cannot send would stall
        # every row queued behind it.
        raise PayloadTooLarge(
            f"a {topic} record of {size} bytes exceeds the {MAX_RECORD_BYTES}-byte limit; "
            "large things travel by claim check (uri, sha256, size)"
        )
    return (topic, key, slot_of(key), value, encoded_headers)


def _event_row(event: Event[Any]) -> tuple[Any, ...]:
    # No ce_* headers: they mark binary content mode, and SDKs that detect the mode by them
    # (the Python SDK's from_kafka) would then misread this structured event.
    headers = {
        "content-type": CONTENT_TYPE,
        "modelbus.event_id": event.id,
        "modelbus.event_type": event.type,
    }
    return _row(BY_EVENT_TYPE[event.type].name, event.key, encode(event), headers)


async def add(conn: Connection, *events: Event[Any]) -> None:
    """Queue events for publication on their topics, inside the caller's transaction."""
    if len(events) == 1:
        await conn.execute(_INSERT, *_event_row(events[0]))
    elif events:
        # COPY: about twice as fast as executemany for a batch, and as transactional.
        await conn.copy_records_to_table(
            "outbox", records=[_event_row(e) for e in events], columns=_COLUMNS
        )


async def add_raw(
    conn: Connection, *, topic: str, key: str, value: bytes, headers: dict[str, str]
) -> None:
    """Queue bytes that are not a modelbus event (a dead letter keeps the original value)."""
    await conn.execute(_INSERT, *_row(topic, key, value, headers))


# What a dead letter keeps of the original's key and headers at most (see fit_dead_letter).
_KEEP_KEY_BYTES = 1024
_KEEP_HEADER_BYTES = 16 * 1024


def _storable(text: str) -> str:
    """``text`` as Postgres text and jsonb can hold it: NUL becomes U+FFFD, as bytes that are
    no UTF-8 already did. Anything a record carries must be storable, or its dead letter
    could not be queued and its partition would fail for good."""
    return text.replace("\x00", "\ufffd")


def fit_dead_letter(
    raw_key: bytes, value: bytes, headers: dict[str, str], reason: dict[str, str]
) -> tuple[str, bytes, dict[str, str]]:
    """A dead letter's key, value and headers (the original's plus ``reason``), cut to
    what the relay can publish.

    A dead letter that could not be published would stall the relay, and every event queued
    behind it, for good. So the original key, headers and value are kept as far as they fit
    into one record, and a header says what was cut (the original stays where it was).
    """
    if sum(len(k) + len(v) for k, v in headers.items()) > _KEEP_HEADER_BYTES:
        headers = {"modelbus.dlq.headers_dropped": str(len(headers))}
    else:
        headers = {_storable(k): _storable(v) for k, v in headers.items()}
    if len(raw_key) > _KEEP_KEY_BYTES:
        headers["modelbus.dlq.key_truncated_from"] = str(len(raw_key))
    key = _storable(raw_key[:_KEEP_KEY_BYTES].decode("utf-8", "replace"))
    headers.update(reason)
    # Room left for the value, keeping some for the one header that may still be added.
    room = MAX_RECORD_BYTES - len(key.encode()) - len(orjson.dumps(headers)) - 64
    if len(value) > room:
        headers["modelbus.dlq.value_truncated_from"] = str(len(value))
        value = value[:room]
    return key, value, headers
