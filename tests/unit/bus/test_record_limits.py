"""Nothing enters the outbox that the relay could not publish: it would stall every row behind it."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from aiokafka import ConsumerRecord

from shared.bus import outbox
from shared.errors import PayloadTooLarge
from shared.events.envelope import new_event
from shared.events.monitoring import Label, LabelsReceived

REASON = {"modelbus.dlq.error_class": "InvalidEvent", "modelbus.dlq.offset": "7"}


class NoConnection:
    async def execute(self, *args: Any) -> str:
        raise AssertionError("an oversized row must be refused before it is written")

    async def copy_records_to_table(self, *args: Any, **kwargs: Any) -> None:
        raise AssertionError("an oversized row must be refused before it is written")


async def test_an_event_too_large_to_publish_is_refused_in_the_writers_transaction() -> None:
    huge = LabelsReceived(model_name="m", labels=[Label(request_id="r", value="x" * 9_000_000)])
    small = LabelsReceived(model_name="m", labels=[Label(request_id="r", value=1)])
    events = [new_event(small, source="test"), new_event(huge, source="test")]
    with pytest.raises(PayloadTooLarge, match=r"labels\.received record of \d+ bytes exceeds"):
        await outbox.add(NoConnection(), *events)  # type: ignore[arg-type]


def record(value: bytes, key: bytes = b"m", headers: Any = ()) -> ConsumerRecord[bytes, bytes]:
    return ConsumerRecord(
        topic="labels.received",
        partition=0,
        offset=7,
        timestamp=0,
        timestamp_type=0,
        key=key,
        value=value,
        checksum=None,
        serialized_key_size=len(key),
        serialized_value_size=len(value),
        headers=headers,
    )


def fit(original: ConsumerRecord[bytes, bytes]) -> tuple[str, bytes, dict[str, str]]:
    headers = {k: v.decode() for k, v in original.headers}
    return outbox.fit_dead_letter(original.key or b"", original.value or b"", headers, REASON)


def size(key: str, value: bytes, headers: dict[str, str]) -> int:
    return len(key.encode()) + len(value) + len(orjson.dumps(headers))


def test_a_dead_letter_that_fits_keeps_the_original_whole() -> None:
    key, value, headers = fit(record(b"{bad", headers=[("trace", b"t1")]))
    assert (key, value) == ("m", b"{bad")
    assert headers == {"trace": "t1", **REASON}


def test_a_value_near_the_topic_limit_is_cut_to_fit_and_says_so() -> None:
    original = b"x" * (outbox.MAX_RECORD_BYTES + 10_000)
    key, value, headers = fit(record(original))
    assert original.startswith(value)
    assert headers["modelbus.dlq.value_truncated_from"] == str(len(original))
    assert size(key, value, headers) <= outbox.MAX_RECORD_BYTES
    outbox._row("labels.received.dlq", key, value, headers)  # accepted by the outbox


def test_huge_original_headers_and_key_are_dropped_and_cut() -> None:
    big_headers = [(f"h{i}", b"v" * 1000) for i in range(100)]
    key, value, headers = fit(record(b"v", key=b"k" * 5000, headers=big_headers))
    assert headers == {
        "modelbus.dlq.headers_dropped": "100",
        "modelbus.dlq.key_truncated_from": "5000",
        **REASON,
    }
    assert key == "k" * 1024 and value == b"v"
