"""The topic table is consistent: one payload per topic, known parties, keys that exist."""

from __future__ import annotations

from collections import Counter

import pytest

from shared.events.common import Payload
from shared.events.topics import BY_EVENT_TYPE, EXTERNAL, TOPICS, topic_for_payload
from shared.settings import DEFAULT_PORTS
from tests.support.events import SAMPLES

SERVICES = set(DEFAULT_PORTS)
# The modelbus CLI asks for training the way an outside system would, by publishing.
PRODUCERS = SERVICES | {EXTERNAL, "cli"}
CONSUMERS = SERVICES | {EXTERNAL}


def test_every_payload_model_is_used_by_exactly_one_topic() -> None:
    uses = Counter(t.payload for t in TOPICS.values())
    assert [p.__name__ for p, n in uses.items() if n > 1] == []
    for t in TOPICS.values():
        assert issubclass(t.payload, Payload)
        assert topic_for_payload(SAMPLES[t.name]) is t


def test_event_types_and_dead_letter_topics_are_distinct() -> None:
    assert len(BY_EVENT_TYPE) == len(TOPICS)
    assert all(BY_EVENT_TYPE[t.event_type] is t for t in TOPICS.values())
    dead_letters = {t.dead_letter for t in TOPICS.values()}
    assert len(dead_letters) == len(TOPICS)
    assert not dead_letters & set(TOPICS)


@pytest.mark.parametrize("name", sorted(TOPICS))
def test_parties_are_known(name: str) -> None:
    t = TOPICS[name]
    assert t.producers and set(t.producers) <= PRODUCERS, t.producers
    assert t.consumers and set(t.consumers) <= CONSUMERS, t.consumers
    assert len(set(t.consumers)) == len(t.consumers)


@pytest.mark.parametrize("name", sorted(TOPICS))
def test_key_is_a_required_field_of_the_payload(name: str) -> None:
    t = TOPICS[name]
    # One model's events on one partition; the audit checkpoints and token events, which
    # belong to no model, are keyed by their log and their principal.
    assert t.key == {"governance.checkpoints": "log"}.get(
        name, "principal_id" if name.startswith("auth.") else "model_name"
    )
    field = t.payload.model_fields.get(t.key)
    assert field is not None and field.is_required(), f"{t.payload.__name__} lacks {t.key}"
    assert t.partitions >= 1
    assert t.event_type == f"io.modelbus.{name}.v{t.version}"


def test_every_service_takes_part() -> None:
    parties = {p for t in TOPICS.values() for p in (*t.producers, *t.consumers)}
    assert parties >= SERVICES


def test_public_topics_are_those_outside_systems_produce() -> None:
    public = {t.name for t in TOPICS.values() if t.public}
    assert public == {n for n, t in TOPICS.items() if EXTERNAL in t.producers}
    assert {"training.requested", "model.submitted", "labels.received"} <= public
