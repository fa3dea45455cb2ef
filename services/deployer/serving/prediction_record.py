"""One ``predictions.logged`` record: what the request path keeps, and its encoding.

Records are encoded without pydantic: the envelope is built as a dict with exactly the shape
:func:`shared.events.envelope.encode` gives a :class:`PredictionLogged` event, and dumped
with orjson (numpy arrays natively). A unit test decodes the result with the strict decoder
and compares it key for key with the pydantic encoding.
"""

from __future__ import annotations

import functools
import os
import random
import time
from typing import Any, NamedTuple

import numpy as np
import orjson

from shared.events.envelope import CONTENT_TYPE
from shared.events.topics import topic

TOPIC = topic("predictions.logged")
EVENT_TYPE = TOPIC.event_type
# The same for every record: content type and event type (consumers read the id from the value).
HEADERS = [("content-type", CONTENT_TYPE.encode()), ("modelbus.event_type", EVENT_TYPE.encode())]
_VARIANT = "89ab"
_random = random.Random(os.urandom(32))
os.register_at_fork(after_in_child=lambda: _random.seed(os.urandom(32)))  # no shared sequence
REDACTED = "[redacted]"
_OPTIONS = orjson.OPT_SERIALIZE_NUMPY


class PredictionRecord(NamedTuple):
    request_id: str
    model_name: str
    version: int
    arm: str
    time: float  # seconds since the epoch
    inputs: dict[str, Any]
    outputs: dict[str, Any]
    latency_ms: float
    error: str | None
    redact: frozenset[str]


def _default(value: Any) -> Any:
    if isinstance(value, np.ndarray):  # object (BYTES) or non-contiguous arrays
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"cannot log a {type(value).__name__}")


def _redacted(tensors: dict[str, Any], redact: frozenset[str]) -> dict[str, Any]:
    if not redact or redact.isdisjoint(tensors):
        return tensors
    return {k: REDACTED if k in redact else v for k, v in tensors.items()}


def new_event_id() -> str:
    """A random version-4 UUID. Event ids need uniqueness, not secrecy: a seeded PRNG draw
    costs a fraction of :func:`uuid.uuid4`'s system call per record."""
    h = f"{_random.getrandbits(128):032x}"
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{_VARIANT[int(h[16], 16) & 3]}{h[17:20]}-{h[20:]}"


@functools.lru_cache(maxsize=4)
def _second(epoch_second: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(epoch_second))


def iso_time(epoch: float) -> str:
    """``2026-01-02T03:04:05.123456Z``, as pydantic writes a UTC datetime; records in one
    batch share their second, which is formatted once."""
    second = int(epoch)
    return f"{_second(second)}.{int((epoch - second) * 1e6):06d}Z"


@functools.lru_cache(maxsize=4096)
def _head(source: str, model_name: str, version: int, arm: str) -> bytes:
    """The JSON that a (model, version, arm) never changes: the envelope's constant
    attributes and the start of ``data``, left open for the per-record fields."""
    attributes = orjson.dumps(
        {
            "specversion": "1.0",
            "source": source,
            "type": EVENT_TYPE,
            "subject": model_name,
            "datacontenttype": "application/json",
        }
    )
    data = orjson.dumps({"model_name": model_name, "version": version, "arm": arm})
    return attributes[:-1] + b',"data":' + data[:-1] + b","


def encode_record(record: PredictionRecord, source: str) -> bytes:
    """The CloudEvents JSON of one record.

    One orjson call for what varies (it escapes every string a caller sent), spliced between
    the cached constant part and the id and time, which are plain ASCII by construction.
    """
    event_id = new_event_id().encode()
    when = iso_time(record.time)
    varying = orjson.dumps(
        {
            "request_id": record.request_id,
            "time": when,
            "inputs": _redacted(record.inputs, record.redact),
            "outputs": _redacted(record.outputs, record.redact),
            "latency_ms": record.latency_ms,
            "status": "ok" if record.error is None else "error",
            "error": record.error,  # payload fields keep their nulls, as encode() writes them
        },
        default=_default,
        option=_OPTIONS,
    )
    return b"".join(
        (
            _head(source, record.model_name, record.version, record.arm),
            varying[1:],
            b',"id":"',
            event_id,
            b'","time":"',
            when.encode(),
            b'","correlationid":"',
            event_id,
            b'"}',
        )
    )
