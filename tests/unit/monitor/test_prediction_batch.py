"""Prediction records read in bulk: the plain decoder accepts only what the strict one
accepts, with the same values, and a batch's features equal those read one at a time."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import numpy as np
import orjson
import pytest

from services.monitor.analysis.prediction_batch import decode_plain, feature_rows
from services.monitor.analysis.tensors import feature_matrix
from shared.errors import InvalidEvent
from shared.events.deployment import PredictionLogged
from shared.events.envelope import decode_on, encode, new_event
from shared.events.topics import TOPICS

TOPIC = TOPICS["predictions.logged"]


def _doc(**data: Any) -> dict[str, Any]:
    payload = PredictionLogged(
        request_id=uuid.uuid4().hex,
        model_name="m",
        version=3,
        arm="shadow",
        time=datetime.now(UTC).isoformat(),
        inputs={"input": [[1.5, 2, None]]},
        outputs={"label": [1], "probabilities": [[0.2, 0.8]]},
        latency_ms=4,
        status="ok",
    )
    doc: dict[str, Any] = orjson.loads(encode(new_event(payload, source="deployer")))
    doc["data"].update(data)
    return doc


def test_a_plain_record_decodes_to_what_the_strict_decoder_gives() -> None:
    for doc in (_doc(), _doc(error="boom", status="error"), _doc(latency_ms=3.25)):
        doc["traceparent"] = "00-abc"  # an extension attribute: ignored by both
        raw = orjson.dumps(doc)
        plain, strict = decode_plain(raw), decode_on(raw, TOPIC)
        assert plain is not None
        assert plain.model_dump() == strict.model_dump()
        assert plain.time == strict.time and plain.data == strict.data


@pytest.mark.parametrize(
    "change",
    [
        {"version": "3"},  # lax pydantic coerces it; the plain path does not
        {"version": 3.0},
        {"latency_ms": "4"},
        {"arm": "blue"},
        {"status": "fine"},
        {"extra": 1},
        {"error": 5},
        {"inputs": [1, 2]},
        {"request_id": None},
    ],
)
def test_anything_not_plain_is_left_to_the_strict_decoder(change: dict[str, Any]) -> None:
    raw = orjson.dumps(_doc(**change))
    assert decode_plain(raw) is None


def test_envelope_variants_are_left_to_the_strict_decoder() -> None:
    def variant(**attrs: Any) -> bytes:
        doc = _doc()
        doc.update(attrs)
        return orjson.dumps({k: v for k, v in doc.items() if v is not ...})

    for raw in (
        variant(time="2025-01-01"),
        variant(time="2025-13-01T00:00:00Z"),
        variant(time=5),
        variant(specversion="0.3"),
        variant(govsig="x", govseq=1, govkeyid="k"),
        variant(type=TOPICS["labels.received"].event_type),
        variant(id=...),
        variant(subject=7),
        variant(data=[]),
        orjson.dumps(_doc(request_id="a\x00b")),
        b'{"not": "closed"',
        b"[1, 2]",
        None,
    ):
        assert decode_plain(raw) is None
    # and the strict decoder decides them: these are refused with a reason
    with pytest.raises(InvalidEvent):
        decode_on(variant(time="2025-13-01T00:00:00Z"), TOPIC)
    assert decode_on(orjson.dumps(_doc(version="3")), TOPIC).data.version == 3


@pytest.mark.parametrize(
    "batch",
    [
        [{"input": [[1, 2, None]]}, {"input": [[4, 5, 6]]}],
        [{"input": [[1, 2], [3, 4]]}, {"input": [[5, 6], [7, 8]]}],
        [{"input": [1, 2, 3]}, {"input": [4, 5, 6]}],
        [{"input": [[[1, 2], [3, 4]]]}, {"input": [[[5, 6], [7, 8]]]}],
        [{"input": [[1, 2]]}, {"input": [[3]]}],  # ragged across requests
        [{"input": [["DE", "FR"]]}, {"input": [["US", "DE"]]}],  # text
        [{"input": [[1, 2]]}, {"input": [["a", 2]]}],
        [{"input": {"data": [1, 2], "shape": [1, 2]}}, {"input": [[1, 2]]}],
        [{"a": [[1]], "b": [[2, 3]]}, {"a": [[4]], "b": [[5, 6]]}],
        [{"input": [[1, 2]]}, {"other": [[1, 2]]}],
        [{}, {"input": [[1]]}],
        [{"input": 5}, {"input": 6}],
        [{"input": []}, {"input": []}],
        [{"input": [["1.5", True]]}, {"input": [[2, False]]}],
    ],
)
def test_batch_features_equal_features_read_one_at_a_time(batch: list[dict[str, Any]]) -> None:
    together = feature_rows(batch)
    alone = [feature_matrix(i) for i in batch]
    assert len(together) == len(alone)
    for (m1, p1), (m2, p2) in zip(together, alone, strict=True):
        assert p1 == p2
        if m2 is None:
            assert m1 is None
        else:
            assert m1 is not None and m1.shape == m2.shape
            np.testing.assert_array_equal(m1, m2)
