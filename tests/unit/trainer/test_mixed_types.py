"""Training on a table with text columns: the pipeline, the graph's inputs, the evidence."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import orjson

from services.trainer.training.train import Inputs, train
from shared.datasets.credit import CATEGORICAL, NUMERIC, TARGET, credit_applications, to_csv
from shared.events.reference_profile import parse_reference_profile
from tests.unit.trainer.file_requests import csv_request


def _request(tmp_path: Path, algorithm: str) -> Inputs:
    data = to_csv(credit_applications(900, seed=5))
    return csv_request(
        tmp_path / "credit.csv", data, model="credit", target=TARGET, algorithm=algorithm,
        metadata={"sensitive_attribute": "age_band"},
    )  # fmt: skip


def test_a_table_with_text_columns_trains_into_a_graph_of_raw_named_inputs(
    tmp_path: Path,
) -> None:
    out = train(_request(tmp_path, "logistic_regression"), lambda message, done: None)

    model = onnx.load_model_from_string(out.model)
    types = {i.name: i.type.tensor_type.elem_type for i in model.graph.input}
    assert list(types) == out.summary["params"]["feature_names"]
    assert {n for n, t in types.items() if t == onnx.TensorProto.STRING} == set(CATEGORICAL)
    assert {n for n, t in types.items() if t == onnx.TensorProto.FLOAT} == set(NUMERIC)
    assert {node.domain for node in model.graph.node} <= {"", "ai.onnx.ml"}
    assert out.summary["params"]["inputs"]["country"] == "categorical"
    assert out.summary["metrics"]["onnx_max_abs_diff"] < 1e-4
    assert out.summary["fairness"]["groups"] == 3.0  # the three age bands

    session = ort.InferenceSession(out.model, providers=["CPUExecutionProvider"])
    feed = {
        n: np.array([["Atlantis"]], dtype=object)
        if n in CATEGORICAL
        else np.array([[1000.0]], dtype=np.float32)
        for n in types
    }
    label, proba = session.run(None, feed)  # categories never seen: still an answer
    assert label.shape == (1,) and abs(float(proba.sum()) - 1.0) < 1e-5

    profile = parse_reference_profile(out.profile)
    country = next(f for f in profile.features if f.name == "country")
    assert country.kind == "categorical" and set(country.categories) >= {"DE", "FR", "PL"}
    income = next(f for f in profile.features if f.name == "income")
    assert income.kind == "numeric" and income.missing_rate > 0
    header = out.reference_sample.split(b"\n", 1)[0].decode().split(",")
    assert header[:2] == ["country", "product"] and header[-1] == TARGET
    assert orjson.loads(out.importance)["features"].keys() == set(types)


def test_tree_models_on_text_columns_keep_parity(tmp_path: Path) -> None:
    out = train(_request(tmp_path, "hist_gradient_boosting"), lambda message, done: None)
    assert out.summary["algorithm"] == "hist_gradient_boosting"
    assert out.summary["metrics"]["onnx_max_abs_diff"] < 1e-4
