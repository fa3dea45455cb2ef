"""What the consumer decides before touching the database: dead letter or event, retry or not."""

from __future__ import annotations

import errno
import socket
from typing import Any

import asyncpg
import orjson
import pytest
import structlog
from aiokafka import ConsumerRecord
from aiokafka.errors import KafkaConnectionError, UnknownTopicOrPartitionError

from shared.bus.consumer import BatchProcessor, DeadLetter, Decoded
from shared.bus.retry import Backoff, is_transient
from shared.errors import Conflict, InvalidEvent, InvalidInput, Unavailable
from shared.events.envelope import encode, new_event
from shared.logging import configure_logging
from tests.support.events import SAMPLES


def record(topic: str, value: bytes | None, offset: int = 7) -> ConsumerRecord[bytes, bytes]:
    return ConsumerRecord(
        topic=topic,
        partition=2,
        offset=offset,
        timestamp=0,
        timestamp_type=0,
        key=b"m",
        value=value,
        checksum=None,
        serialized_key_size=1,
        serialized_value_size=len(value or b""),
        headers=(),
    )


def processor(max_event_bytes: int = 1_048_576) -> BatchProcessor:
    pool: Any = None  # decoding never touches the database
    return BatchProcessor(
        pool, service="svc", consumer="svc", handlers={}, max_event_bytes=max_event_bytes
    )


def test_a_valid_event_is_decoded() -> None:
    event = new_event(SAMPLES["labels.received"], source="test")
    decoded = processor().decode(record("labels.received", encode(event)))
    assert isinstance(decoded, Decoded)
    assert decoded.event == event


@pytest.mark.parametrize(
    ("topic", "value", "reason"),
    [
        ("labels.received", b"{", "value is not JSON"),
        ("labels.received", None, "tombstone"),
        (
            "model.submitted",
            encode(new_event(SAMPLES["labels.received"], source="t")),
            "does not belong on topic 'model.submitted'",
        ),
        ("labels.received", b" " * 2048, "value of 2048 bytes exceeds the event limit of 1024"),
    ],
)
def test_undecodable_records_become_dead_letters(
    topic: str, value: bytes | None, reason: str
) -> None:
    decoded = processor(max_event_bytes=1024).decode(record(topic, value))
    assert isinstance(decoded, DeadLetter)
    assert isinstance(decoded.error, InvalidEvent)
    assert reason in str(decoded.error)
    # One dead letter per record position, however often the record is redelivered.
    assert decoded.dedupe_id == f"dlq:{topic}:2:7"


@pytest.mark.parametrize(
    "exc",
    [
        Unavailable("db down"),
        ConnectionRefusedError(),
        asyncpg.exceptions.ConnectionDoesNotExistError("gone"),
        asyncpg.exceptions.CannotConnectNowError("starting"),
        asyncpg.exceptions.AdminShutdownError("shutdown"),
        asyncpg.exceptions.DeadlockDetectedError("deadlock"),
        asyncpg.exceptions.InterfaceError("pool is closing"),
        TimeoutError(),
        OSError(errno.EHOSTUNREACH, "No route to host"),
        OSError("Multiple exceptions: [Errno 111] Connect call failed"),
        socket.gaierror(-2, "Name or service not known"),
        KafkaConnectionError(),
    ],
)
def test_outages_are_transient(exc: BaseException) -> None:
    assert is_transient(exc)


@pytest.mark.parametrize(
    "exc",
    [
        InvalidInput("bad"),
        InvalidEvent("bad"),
        Conflict("taken"),
        ValueError("bug"),
        asyncpg.exceptions.UndefinedTableError("no table"),
        asyncpg.exceptions._base.DataError("invalid input for query argument $1"),
        UnknownTopicOrPartitionError(),
        PermissionError(errno.EACCES, "Permission denied"),
        FileNotFoundError(errno.ENOENT, "No such file"),
        IsADirectoryError(errno.EISDIR, "Is a directory"),
        OSError(errno.EIO, "Input/output error"),
    ],
)
def test_bad_input_and_bugs_are_not_transient(exc: BaseException) -> None:
    assert not is_transient(exc)


def test_backoff_grows_to_its_cap_and_resets() -> None:
    backoff = Backoff(initial_s=0.1, cap_s=1.0)
    delays = [backoff.next_delay() for _ in range(8)]
    assert 0.05 <= delays[0] <= 0.1
    assert all(d <= 1.0 for d in delays)
    assert delays[-1] >= 0.5  # capped, jittered down by at most half
    backoff.reset()
    assert backoff.next_delay() <= 0.1


async def test_what_a_handler_logs_names_the_event_it_handles_and_nothing_after(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging("svc")
    try:
        logger = structlog.get_logger("handler")

        async def handler(event: Any, uow: Any) -> None:
            logger.info("handling", step=1)

        event = new_event(SAMPLES["labels.received"], source="test")
        handled = BatchProcessor(
            None,  # type: ignore[arg-type]  # the handler does not touch the database
            service="svc",
            consumer="svc",
            handlers={"labels.received": handler},
        )
        item = handled.decode(record("labels.received", encode(event)))
        assert isinstance(item, Decoded)
        await handled._handle(None, [item])  # type: ignore[arg-type]
        logger.info("between events")
        inside, after = (orjson.loads(line) for line in capsys.readouterr().err.splitlines())
    finally:
        structlog.reset_defaults()
    assert (inside["event"], inside["step"], inside["service"]) == ("handling", 1, "svc")
    assert (inside["event_id"], inside["correlation_id"], inside["model"]) == (
        event.id,
        event.correlationid,
        event.subject,
    )
    assert after["event"] == "between events"
    assert not {"event_id", "correlation_id", "model"} & set(after)
