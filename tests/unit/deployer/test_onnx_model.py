"""Sessions: signature from the graph, warm-up, batchability, and what cannot be served."""

from __future__ import annotations

import numpy as np
import pytest

from services.deployer.runtime.model_build import LoadFailed, SessionOptions
from services.deployer.runtime.onnx_model import ModelUnusable, OnnxModel
from services.deployer.version_loader import load_model
from shared.events.common import ArtifactRef
from shared.store.artifacts import FileArtifactStore
from tests.support.onnx_models import gradient_boosting_onnx, logistic_regression_onnx
from tests.unit.deployer.models import string_lookup_onnx, zipmap_classifier_onnx

OPTIONS = SessionOptions(intra_op_threads=1, inter_op_threads=1, max_batch_rows=8)


def build(data: bytes) -> OnnxModel:
    return OnnxModel.build(data, intra_op_threads=1, inter_op_threads=1)


def test_signature_and_runs_match_scikit_learn() -> None:
    built = gradient_boosting_onnx()
    model = build(built.onnx)
    assert [t.describe() for t in model.inputs] == [
        {"name": "X", "datatype": "FP32", "shape": [-1, 30]}
    ]
    assert [(t.name, t.datatype) for t in model.outputs] == [
        ("label", "INT64"),
        ("probabilities", "FP32"),
    ]
    model.warm_up(8)
    assert model.batchable and model.batch_run_ms > 0
    labels, _ = model.run({"X": built.X_holdout})
    np.testing.assert_array_equal(labels, built.expected)


def test_string_inputs_are_bytes_tensors() -> None:
    model = build(string_lookup_onnx())
    model.warm_up(4)
    assert model.inputs[0].datatype == "BYTES"
    (codes,) = model.run({"S": np.array(["b", "a", "?"], dtype=object)})
    assert codes.tolist() == [2, 1, -1]


def test_a_zipmap_output_cannot_be_served() -> None:
    with pytest.raises(ModelUnusable, match="cannot carry"):
        build(zipmap_classifier_onnx())


async def test_load_verifies_the_digest_before_building(tmp_path) -> None:  # type: ignore[no-untyped-def]
    store = FileArtifactStore(tmp_path)
    ref = await store.put(logistic_regression_onnx().onnx)
    model = await load_model(ref, store, OPTIONS, max_bytes=10**8)
    assert model.batchable

    wrong = ArtifactRef(uri=ref.uri, sha256="0" * 64, size=ref.size)
    with pytest.raises(LoadFailed) as failed:
        await load_model(wrong, store, OPTIONS, max_bytes=10**8)
    assert failed.value.stage == "verify" and not failed.value.retryable


async def test_load_failures_name_their_stage(tmp_path) -> None:  # type: ignore[no-untyped-def]
    store = FileArtifactStore(tmp_path)
    garbage = await store.put(b"this is not an onnx model")
    with pytest.raises(LoadFailed) as failed:
        await load_model(garbage, store, OPTIONS, max_bytes=10**8)
    assert failed.value.stage == "session"

    missing = ArtifactRef(uri=(tmp_path / "gone.onnx").as_uri(), sha256="1" * 64, size=3)
    with pytest.raises(LoadFailed) as failed:
        await load_model(missing, store, OPTIONS, max_bytes=10**8)
    assert failed.value.stage == "fetch" and not failed.value.retryable

    with pytest.raises(LoadFailed) as failed:
        await load_model(garbage, store, OPTIONS, max_bytes=3)
    assert failed.value.stage == "fetch"
