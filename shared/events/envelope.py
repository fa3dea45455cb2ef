"""CloudEvents 1.0 envelope in structured JSON mode, and its strict decoding.

Every value modelbus writes to Kafka is one of these, serialised as
``application/cloudevents+json``; any CloudEvents SDK can read it. ``correlationid``
ties a whole lifecycle chain together, ``causationid`` names the event that caused this one.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, Generic, Literal, TypeVar

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from shared.errors import InvalidEvent, describe_validation
from shared.events.common import Payload
from shared.events.topics import BY_EVENT_TYPE, Topic, topic_for_payload

CONTENT_TYPE = "application/cloudevents+json"
P = TypeVar("P", bound=Payload)


class Event(BaseModel, Generic[P]):
    # Extension attributes other producers add (traceparent, partitionkey, ...) are legal
    # CloudEvents and must not dead-letter an event; modelbus does not carry them on.
    # The payload, by contrast, is strict (extra="forbid" on every Payload).
    model_config = ConfigDict(frozen=True, extra="ignore")

    specversion: Literal["1.0"] = "1.0"
    id: str
    source: str
    type: str
    subject: str | None = None
    time: datetime
    datacontenttype: Literal["application/json"] = "application/json"
    correlationid: str
    causationid: str | None = None
    # Governance's signature on its decisions (shared/events/signing.py); absent elsewhere.
    govseq: int | None = Field(default=None, ge=1)
    govkeyid: str | None = Field(default=None, max_length=64)
    govsig: str | None = Field(default=None, max_length=200)
    data: P

    @property
    def key(self) -> str:
        """Kafka key: the topic's key field (the model name, so one model's events stay
        ordered on one partition; the log's name for audit checkpoints)."""
        topic = BY_EVENT_TYPE.get(self.type)
        return str(getattr(self.data, topic.key if topic is not None else "model_name"))


def new_event(
    data: P,
    *,
    source: str,
    subject: str | None = None,
    caused_by: Event[Any] | None = None,
    correlation_id: str | None = None,
) -> Event[P]:
    """Make an event for ``data``; an event caused by another inherits its correlation id."""
    topic = topic_for_payload(data)
    event_id = str(uuid.uuid4())
    if correlation_id is None:
        correlation_id = caused_by.correlationid if caused_by is not None else event_id
    event_class: Any = Event[type(data)]  # type: ignore[misc]
    event: Event[P] = event_class(
        id=event_id,
        source=f"/modelbus/{source}",
        type=topic.event_type,
        subject=subject or getattr(data, topic.key, None),
        time=datetime.now(UTC),
        correlationid=correlation_id,
        causationid=caused_by.id if caused_by is not None else None,
        data=data,
    )
    return event


# The envelope's attributes that may be unset: absent from the JSON rather than null.
_OPTIONAL_ATTRIBUTES = tuple(
    name for name, field in Event.model_fields.items() if name != "data" and not field.is_required()
)


def encode(event: Event[Any]) -> bytes:
    # CloudEvents attributes are absent rather than null; payload fields keep their nulls,
    # so only the envelope's own unset attributes are dropped (one dump of the whole event).
    doc = event.model_dump(mode="json", by_alias=True)
    for name in _OPTIONAL_ATTRIBUTES:
        if doc[name] is None:
            del doc[name]
    return orjson.dumps(doc)


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any("\x00" in k or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


_EVENT_CLASSES: dict[str, Any] = {}


def decode_on(raw: bytes | None, topic: Topic) -> Event[Any]:
    """:func:`decode` for a record read from ``topic``, on the hot path: the bytes are
    validated in one pass (``model_validate_json``, no intermediate dict). Anything that
    does not pass is decoded again by :func:`decode`, which finds the reason, so both
    refuse the same events with the same messages. (pydantic's parser also reads ``NaN``
    and ``Infinity``, which are not JSON: values that hold them take the strict path.)"""
    if raw is not None and b"\\u0000" not in raw and b"NaN" not in raw and b"Infinity" not in raw:
        cls = _EVENT_CLASSES.get(topic.name)
        if cls is None:
            cls = _EVENT_CLASSES[topic.name] = Event[topic.payload]  # type: ignore[name-defined]
        try:
            event: Event[Any] = cls.model_validate_json(raw)
        except ValidationError:
            pass
        else:
            if event.type == topic.event_type:
                return event
    return decode(raw, expected=topic)


def decode(raw: bytes | None, *, expected: Topic | None = None) -> Event[Any]:
    """Parse and validate one event; anything wrong raises :class:`InvalidEvent` with the reason."""
    if raw is None:
        raise InvalidEvent("empty value (tombstone) where an event was expected")
    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidEvent(f"value is not JSON: {exc}") from exc
    if not isinstance(doc, dict):
        raise InvalidEvent("value is JSON but not a CloudEvents object")
    # JSON may carry U+0000 (as \u0000); Postgres text cannot, so such an event could
    # never be recorded, not even its id in the inbox. Only raw values that can hold one
    # (the escape is in the bytes) are walked.
    if b"\\u0000" in raw and _has_nul(doc):
        raise InvalidEvent("a string in the event contains U+0000 (NUL), which is not allowed")
    event_type = doc.get("type")
    topic = BY_EVENT_TYPE.get(event_type) if isinstance(event_type, str) else None
    if topic is None:
        # Not echoed: the type is whatever the sender wrote, of any length or content.
        raise InvalidEvent(
            f"unknown event type: not one of the {len(BY_EVENT_TYPE)} modelbus types"
        )
    if expected is not None and topic.name != expected.name:
        raise InvalidEvent(f"event type {event_type!r} does not belong on topic {expected.name!r}")
    try:
        return Event[topic.payload].model_validate(doc)  # type: ignore[name-defined]
    except ValidationError as exc:
        raise InvalidEvent(
            f"event does not match {topic.event_type}: {describe_validation(exc)}"
        ) from exc
