"""Every acceptance check on ONNX bytes, and the order that keeps the registry safe."""

from __future__ import annotations

import os
from pathlib import Path

import onnxruntime
import pytest
from onnx import TensorProto, helper
from skl2onnx import to_onnx
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

from services.registry.domain.refusal import Check, Refusal
from services.registry.domain.validation import inspect_model
from tests.support.onnx_models import (
    custom_domain_onnx,
    external_data_onnx,
    gradient_boosting_onnx,
    logistic_regression_onnx,
    regression_onnx,
)

LIMIT = 10_000_000


def refusal_of(data: bytes, max_bytes: int = LIMIT) -> Refusal:
    with pytest.raises(Refusal) as caught:
        inspect_model(data, max_bytes=max_bytes)
    return caught.value


def test_standard_models_pass_with_their_signature() -> None:
    classifier = inspect_model(gradient_boosting_onnx().onnx, max_bytes=LIMIT)
    assert [(t.name, t.datatype, t.shape) for t in classifier.inputs] == [("X", "FP32", [-1, 30])]
    assert [(t.name, t.datatype, t.shape) for t in classifier.outputs] == [
        ("label", "INT64", [-1]),
        ("probabilities", "FP32", [-1, 2]),
    ]
    regressor = inspect_model(regression_onnx().onnx, max_bytes=LIMIT)
    assert [(t.name, t.datatype, t.shape) for t in regressor.outputs] == [
        ("variable", "FP32", [-1, 1])
    ]


@pytest.mark.parametrize("data", [os.urandom(4096), b"", b"not a model at all"])
def test_bytes_that_are_not_onnx_are_refused(data: bytes) -> None:
    assert list(refusal_of(data).failures) == [Check.PARSE]


def test_size_is_checked_before_anything_else() -> None:
    refusal = refusal_of(os.urandom(2048), max_bytes=1024)
    assert list(refusal.failures) == [Check.SIZE]
    assert refusal.status_code == 413
    assert "over the limit of 1024 bytes" in refusal.reason


def test_custom_operator_domains_are_refused() -> None:
    refusal = refusal_of(custom_domain_onnx())
    assert list(refusal.failures) == [Check.DOMAINS]
    assert "com.example.secret" in refusal.reason and refusal.status_code == 422


@pytest.mark.parametrize("location", ["weights.bin", "../../etc/weights.bin", "/etc/passwd"])
def test_external_data_is_refused_without_opening_it(
    location: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A file the model names really exists where the checker and ORT would look for it:
    # the refusal must come before either of them reads it.
    monkeypatch.chdir(tmp_path)
    (tmp_path / "weights.bin").write_bytes(b"\0" * 16)
    opened: list[object] = []
    monkeypatch.setattr(onnxruntime, "InferenceSession", lambda *a, **k: opened.append(a))
    refusal = refusal_of(external_data_onnx(location))
    assert list(refusal.failures) == [Check.EXTERNAL_DATA] and "'W'" in refusal.reason
    assert opened == []


def test_a_graph_the_checker_rejects_is_refused() -> None:
    node = helper.make_node("Add", ["X", "Y"], ["Z"])
    graph = helper.make_graph(
        [node], "mismatch",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, [2]),
         helper.make_tensor_value_info("Y", TensorProto.INT64, [2])],
        [helper.make_tensor_value_info("Z", TensorProto.FLOAT, [2])],
    )  # fmt: skip
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    assert list(refusal_of(model.SerializeToString()).failures) == [Check.CHECKER]


def test_outputs_the_inference_protocol_cannot_carry_are_refused() -> None:
    X, y = load_iris(return_X_y=True)
    zipmapped = to_onnx(LogisticRegression(max_iter=300).fit(X, y), X[:1].astype("float32"))
    refusal = refusal_of(zipmapped.SerializeToString())
    assert list(refusal.failures) == [Check.SIGNATURE]
    assert "output_probability" in refusal.reason and "ZipMap" in refusal.reason


def test_a_model_onnxruntime_cannot_load_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(*args: object, **kwargs: object) -> None:
        raise RuntimeError("[ONNXRuntimeError] : 1 : FAIL : Load model failed\nmore detail")

    monkeypatch.setattr(onnxruntime, "InferenceSession", fail)
    refusal = refusal_of(logistic_regression_onnx().onnx)
    assert refusal.failures == {Check.SESSION: "[ONNXRuntimeError] : 1 : FAIL : Load model failed"}
