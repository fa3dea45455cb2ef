"""Struct decoding of stream topics: never looser than the pydantic models it mirrors."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import msgspec
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from shared.errors import InvalidEvent
from shared.events.envelope import decode, encode, new_event
from shared.events.struct_decode import struct_decoder
from shared.events.topics import TOPICS
from tests.support.events import SAMPLES

PREDICTIONS = TOPICS["predictions.logged"]


def _plain(value: Any) -> Any:
    """A struct or a pydantic model as nested dicts of Python values, to compare the two."""
    if isinstance(value, msgspec.Struct):
        return {f: _plain(getattr(value, f)) for f in value.__struct_fields__}
    if isinstance(value, BaseModel):
        return {f: _plain(getattr(value, f)) for f in type(value).model_fields}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _outcome(decoder: Any, raw: bytes) -> tuple[str, Any]:
    try:
        return "accepted", _plain(decoder(raw))
    except InvalidEvent as exc:
        return "refused", exc.message


def _strict(raw: bytes) -> tuple[str, Any]:
    return _outcome(lambda r: decode(r, expected=PREDICTIONS), raw)


@pytest.mark.parametrize("name", sorted(TOPICS))
def test_every_topic_decodes_to_the_values_pydantic_gives(name: str) -> None:
    raw = encode(new_event(SAMPLES[name], source="registry"))
    strict = decode(raw, expected=TOPICS[name])

    assert _plain(struct_decoder(TOPICS[name])(raw)) == _plain(strict)


def test_predictions_decode_into_structs_and_patterned_models_into_pydantic() -> None:
    raw = encode(new_event(SAMPLES["predictions.logged"], source="deployer"))
    assert isinstance(struct_decoder(PREDICTIONS)(raw), msgspec.Struct)
    # A sha256 pattern cannot be mirrored: that topic keeps the pydantic decoder.
    registered = TOPICS["model.registered"]
    raw = encode(new_event(SAMPLES["model.registered"], source="registry"))
    assert isinstance(struct_decoder(registered)(raw), BaseModel)


def test_what_only_pydantics_lax_mode_reads_is_read_as_pydantic_does() -> None:
    doc = orjson.loads(encode(new_event(SAMPLES["predictions.logged"], source="deployer")))
    doc["data"]["version"] = "3"  # a numeric string: msgspec refuses it, pydantic reads 3
    raw = orjson.dumps(doc)

    event = struct_decoder(PREDICTIONS)(raw)

    assert isinstance(event, BaseModel) and event.data.version == 3


def test_a_refused_event_has_the_strict_paths_reason() -> None:
    doc = orjson.loads(encode(new_event(SAMPLES["predictions.logged"], source="deployer")))
    doc["data"]["surprise"] = 1
    raw = orjson.dumps(doc)

    assert _outcome(struct_decoder(PREDICTIONS), raw) == _strict(raw)


_json = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.sampled_from(["", "3", "1.5", "ok", "stable", "1.0", "2026-12-03T08:00:00Z"])
    | st.datetimes().map(datetime.isoformat)
    | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=6,
)
_ENVELOPE = ["specversion", "id", "source", "type", "subject", "time", "datacontenttype",
             "correlationid", "causationid", "govseq", "govkeyid", "govsig", "extension"]  # fmt: skip
_DATA = ["request_id", "model_name", "version", "arm", "time", "inputs", "outputs",
         "latency_ms", "status", "error", "surprise"]  # fmt: skip


@settings(max_examples=400, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["envelope", "data"]),
            st.integers(0, 20),
            st.one_of(st.just(...), _json),
        ),
        min_size=1,
        max_size=3,
    )
)
def test_a_mutated_event_is_accepted_or_refused_exactly_as_pydantic_does(
    changes: list[tuple[str, int, Any]],
) -> None:
    doc = orjson.loads(encode(new_event(SAMPLES["predictions.logged"], source="deployer")))
    for where, index, value in changes:
        target, names = (doc, _ENVELOPE) if where == "envelope" else (doc["data"], _DATA)
        name = names[index % len(names)]
        if value is ...:
            target.pop(name, None)
        else:
            target[name] = value
    raw = json.dumps(doc).encode()  # orjson cannot write integers beyond 64 bits

    assert _outcome(struct_decoder(PREDICTIONS), raw) == _strict(raw)
