"""The CloudEvents envelope: every topic's payload survives encode/decode; bad input is refused."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from shared.errors import InvalidEvent
from shared.events.envelope import Event, decode, encode, new_event
from shared.events.topics import TOPICS
from tests.support.events import MODEL, SAMPLES, signed


def test_every_topic_has_a_sample() -> None:
    assert set(SAMPLES) == set(TOPICS), "add a sample payload for each new topic"


@pytest.mark.parametrize("name", sorted(TOPICS))
def test_round_trip(name: str) -> None:
    cause = new_event(SAMPLES["training.requested"], source="trainer")
    event = new_event(SAMPLES[name], source="registry", caused_by=cause)

    decoded = decode(encode(event), expected=TOPICS[name])

    assert decoded == event
    assert type(decoded.data) is TOPICS[name].payload
    assert decoded.type == f"io.modelbus.{name}.v1"
    assert decoded.source == "/modelbus/registry"
    key = getattr(SAMPLES[name], TOPICS[name].key)
    assert decoded.subject == decoded.key == key
    assert key == MODEL or TOPICS[name].key != "model_name"
    assert (decoded.correlationid, decoded.causationid) == (cause.correlationid, cause.id)


def test_unset_envelope_attributes_are_absent_and_payload_nulls_stay() -> None:
    payload = SAMPLES["model.submitted"].model_copy(update={"algorithm": None})
    event = new_event(payload, source="ci")
    doc = orjson.loads(encode(event))
    assert event.causationid is None and event.govseq is None
    assert not {"causationid", "govseq", "govkeyid", "govsig"} & set(doc)
    assert "algorithm" in doc["data"] and doc["data"]["algorithm"] is None
    decision = signed(SAMPLES["model.approved"], govseq=7)
    assert orjson.loads(encode(decision))["govseq"] == 7


def test_first_event_of_a_chain_correlates_with_itself() -> None:
    event = new_event(SAMPLES["model.submitted"], source="ci")
    doc = orjson.loads(encode(event))
    assert doc["correlationid"] == event.id
    assert "causationid" not in doc  # absent, not null: CloudEvents extensions have no null
    assert doc["specversion"] == "1.0"
    assert doc["datacontenttype"] == "application/json"


def _valid_doc(name: str = "labels.received") -> dict[str, Any]:
    doc: dict[str, Any] = orjson.loads(encode(new_event(SAMPLES[name], source="test")))
    return doc


def _doc_with(**changes: Any) -> bytes:
    doc = _valid_doc()
    doc.update(changes)
    return orjson.dumps(doc)


def _data_with(**changes: Any) -> bytes:
    doc = _valid_doc()
    doc["data"] = {**doc["data"], **changes}
    return orjson.dumps(doc)


def _without(field: str) -> bytes:
    doc = _valid_doc()
    del doc[field]
    return orjson.dumps(doc)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (None, "empty value (tombstone)"),
        (b"\xff\xfe not json", "value is not JSON"),
        (b"", "value is not JSON"),
        (b"[1, 2]", "JSON but not a CloudEvents object"),
        (_doc_with(type="io.modelbus.nothing.v1"), "unknown event type: not one of"),
        (_without("type"), "unknown event type: not one of"),
        (_doc_with(type="io.modelbus.labels.received.v2"), "unknown event type"),
        (_data_with(labels=[]), "data.labels: List should have at least 1 item"),
        (_data_with(surprise=1), "data.surprise: Extra inputs are not permitted"),
        (_without("id"), "id: Field required"),
        (_doc_with(specversion="0.3"), "specversion: Input should be '1.0'"),
        (_doc_with(time="yesterday"), "time: Input should be a valid datetime"),
    ],
)
def test_invalid_events_are_refused_with_the_reason(raw: bytes | None, reason: str) -> None:
    with pytest.raises(InvalidEvent) as caught:
        decode(raw, expected=TOPICS["labels.received"])
    assert reason in caught.value.message


def test_an_unknown_type_is_not_echoed() -> None:
    with pytest.raises(InvalidEvent) as caught:
        decode(_doc_with(type="postgresql://user:secret@db/x" * 100))
    assert "secret" not in caught.value.message
    assert len(caught.value.message) < 100


def test_schema_violation_names_the_event_type() -> None:
    with pytest.raises(InvalidEvent, match=r"does not match io\.modelbus\.labels\.received\.v1"):
        decode(_data_with(model_name=None))


def test_many_violations_are_summarised() -> None:
    doc = _valid_doc("training.completed")
    doc["data"] = {}
    with pytest.raises(InvalidEvent, match=r"\(\+\d+ more\)$"):
        decode(orjson.dumps(doc))


def test_event_on_the_wrong_topic_is_refused() -> None:
    raw = encode(new_event(SAMPLES["model.approved"], source="governance"))
    with pytest.raises(InvalidEvent, match=r"does not belong on topic 'model\.suspended'"):
        decode(raw, expected=TOPICS["model.suspended"])
    assert isinstance(decode(raw), Event)  # without a topic to check against it is fine


def test_extension_attributes_from_other_producers_are_tolerated() -> None:
    event = new_event(SAMPLES["labels.received"], source="test")
    doc = orjson.loads(encode(event))
    doc["traceparent"] = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    assert decode(orjson.dumps(doc)).id == event.id


@pytest.mark.parametrize("where", ["id", "subject", "data.model_name", "data.metadata key"])
def test_text_with_nul_is_refused_because_postgres_cannot_store_it(where: str) -> None:
    doc: dict[str, Any] = orjson.loads(encode(new_event(SAMPLES["model.submitted"], source="t")))
    if where == "data.metadata key":
        doc["data"]["metadata"] = {"tags": {"a\x00": "b"}}
    elif where.startswith("data."):
        doc["data"][where[5:]] = "a\x00b"
    else:
        doc[where] = "a\x00b"
    with pytest.raises(InvalidEvent, match="U\\+0000"):
        decode(orjson.dumps(doc))


def test_the_text_backslash_u0000_is_only_text() -> None:
    doc: dict[str, Any] = orjson.loads(encode(new_event(SAMPLES["model.submitted"], source="t")))
    doc["subject"] = "\\u0000"
    assert decode(orjson.dumps(doc)).subject == "\\u0000"
