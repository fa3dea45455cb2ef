"""The checked-in AsyncAPI document is the one the topic table generates, and covers every topic."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from shared.events.asyncapi import render
from shared.events.topics import EXTERNAL, TOPICS

DOCUMENT = Path(__file__).resolve().parents[3] / "docs" / "asyncapi.json"


@pytest.fixture(scope="module")
def rendered() -> str:
    return render()


@pytest.fixture(scope="module")
def spec(rendered: str) -> dict[str, Any]:
    parsed: dict[str, Any] = json.loads(rendered)
    return parsed


def test_checked_in_document_is_current(rendered: str) -> None:
    assert DOCUMENT.read_text() == rendered, "docs/asyncapi.json is stale: run `modelbus asyncapi`"


def test_document_is_asyncapi_3(spec: dict[str, Any]) -> None:
    assert spec["asyncapi"] == "3.0.0"
    assert spec["info"]["title"] == "modelbus"


def _ref(ref: str) -> str:
    return ref.rsplit("/", 1)[1].replace("%5B", "[").replace("%5D", "]")


@pytest.mark.parametrize("name", sorted(TOPICS))
def test_every_topic_is_published_with_its_envelope(spec: dict[str, Any], name: str) -> None:
    t = TOPICS[name]
    channel = spec["channels"][f"{name}:publish"]
    assert channel["address"] == name
    assert t.event_type in channel["description"]
    assert t.dead_letter in channel["description"]
    assert spec["operations"][f"{name}:publish"]["action"] == "send"

    message = spec["components"]["messages"][f"{name}:publish:Message"]
    envelope = spec["components"]["schemas"][_ref(message["payload"]["$ref"])]
    assert _ref(envelope["properties"]["data"]["$ref"]) == t.payload.__name__
    assert {"id", "source", "type", "time", "correlationid", "data"} <= set(envelope["required"])
    assert t.payload.__name__ in spec["components"]["schemas"]


@pytest.mark.parametrize("name", sorted(TOPICS))
def test_every_consuming_service_is_listed(spec: dict[str, Any], name: str) -> None:
    for consumer in TOPICS[name].consumers:
        if consumer == EXTERNAL:
            continue
        channel = spec["channels"][f"{name}:{consumer}"]
        assert channel["address"] == name
        assert spec["operations"][f"{name}:{consumer}"]["action"] == "receive"


@pytest.mark.parametrize("name", sorted(TOPICS))
def test_decisions_document_their_signature_extension(spec: dict[str, Any], name: str) -> None:
    channel = spec["channels"][f"{name}:publish"]
    message = spec["components"]["messages"][f"{name}:publish:Message"]
    envelope = spec["components"]["schemas"][_ref(message["payload"]["$ref"])]
    assert {"govseq", "govkeyid", "govsig"} <= set(envelope["properties"])
    assert ("`govsig`" in channel["description"]) == TOPICS[name].signed
