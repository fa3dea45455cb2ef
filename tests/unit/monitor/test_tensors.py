"""Logged tensors to arrays: features side by side, predicted values, class scores."""

from __future__ import annotations

import numpy as np
import orjson

from services.monitor.analysis.accumulator import FeatureCounts
from services.monitor.analysis.labelled import render_csv, row_labels
from services.monitor.analysis.latency import LatencySketch
from services.monitor.analysis.reference import CategoricalReference, compile_reference
from services.monitor.analysis.tensors import class_scores, feature_matrix, predicted_values
from shared.events.reference_profile import parse_reference_profile


def test_feature_matrix_shapes_and_missing_values() -> None:
    matrix, problem = feature_matrix({"input": [[1, 2, None], [4, 5, 6]]})
    assert problem is None and matrix is not None
    assert matrix.shape == (2, 3) and np.isnan(matrix[0, 2])
    one_row, _ = feature_matrix({"input": {"data": [1, 2, 3], "shape": [1, 3]}})
    assert one_row is not None and one_row.shape == (1, 3)
    two_inputs, _ = feature_matrix({"a": [[1], [2]], "b": [[3, 4], [5, 6]]})
    assert two_inputs is not None and two_inputs.tolist() == [[1, 3, 4], [2, 5, 6]]


def test_malformed_inputs_are_schema_violations() -> None:
    for inputs in (
        {},
        {"input": [["a", 2]]},
        {"input": [[1, 2], [3]]},
        {"input": [["a", "b"], ["c"]]},
        {"input": 5},
        {"a": [[1]], "b": [[1], [2]]},
    ):
        matrix, problem = feature_matrix(inputs)
        assert matrix is None and problem


def test_text_inputs_are_coded_like_their_reference_categories() -> None:
    profile = parse_reference_profile(
        orjson.dumps(
            {
                "format": "modelbus.reference-profile/1",
                "features": [
                    {"name": "country", "kind": "categorical", "count": 3, "missing_rate": 0.0,
                     "categories": {"DE": 2, "FR": 1}},
                    {"name": "amount", "kind": "numeric", "count": 1, "missing_rate": 0.0,
                     "min": 1.0, "max": 1.0, "mean": 1.0, "std": 0.0, "bin_edges": [1.0, 1.0],
                     "bin_counts": [1]},
                ],
            }
        )
    )  # fmt: skip
    country = compile_reference(profile, None).features[0]
    assert isinstance(country, CategoricalReference)
    matrix, problem = feature_matrix(
        {"country": [["FR"], ["DE"], ["Atlantis"]], "amount": [[2.0], [3.0], [4.0]]}
    )
    assert problem is None and matrix is not None and matrix.shape == (3, 2)
    counts = FeatureCounts.empty(country)
    counts.add_sorted(np.sort(matrix[:, 0]), 0)
    assert dict(zip(country.labels, counts.counts.tolist(), strict=True)) == {"DE": 1, "FR": 1}
    assert counts.unseen == 1


def test_outputs() -> None:
    outputs = {"probabilities": [[0.2, 0.8], [0.9, 0.1]], "label": [[1], [0]]}
    assert predicted_values(outputs) == [1, 0]
    scores = class_scores(outputs, 2)
    assert scores is not None and scores.shape == (2, 2)
    assert predicted_values({"variable": [[1.5], [2.5]]}) == [1.5, 2.5]
    assert predicted_values({}) == [] and class_scores({"label": [1]}, 1) is None


def test_labelled_rows_render_as_training_csv() -> None:
    features = np.array([[1.0, np.nan], [3.0, 4.0]]).tobytes()
    records = [
        {"features": features, "n_rows": 2, "n_cols": 2, "value": b"[0, 1]"},
        {"features": np.array([5.0, 6.0]).tobytes(), "n_rows": 1, "n_cols": 2, "value": b"1"},
        {
            "features": np.array([5.0, 6.0]).tobytes(),
            "n_rows": 1,
            "n_cols": 2,
            "value": b"[1, 2]",
        },  # a label that does not fit the rows is left out
    ]
    data, written = render_csv(["a", "b"], "y", records)
    assert written == 3
    assert data.decode().splitlines() == ["a,b,y", "1.0,,0", "3.0,4.0,1", "5.0,6.0,1"]
    assert row_labels(3, 2) is None and row_labels([1, 2], 2) == [1, 2]


def test_labelled_csv_writes_text_features_back_as_their_labels() -> None:
    matrix, _ = feature_matrix({"c": [["FR"], ["Atlantis"]], "n": [[1.5], [2.0]]})
    assert matrix is not None
    codes = {float(matrix[0, 0]): "FR"}
    record = {"features": matrix.tobytes(), "n_rows": 2, "n_cols": 2, "value": b"[1, 0]"}
    data, written = render_csv(["c", "n"], "y", [record], [codes, None])
    assert written == 2
    assert data.decode().splitlines() == ["c,n,y", "FR,1.5,1", ",2.0,0"]


def test_latency_quantiles_within_one_percent() -> None:
    values = np.random.default_rng(1).lognormal(1.0, 1.0, 10_000)
    sketch = LatencySketch()
    for chunk in np.array_split(values, 10):
        sketch.add(chunk)
    for q in (0.5, 0.95, 0.99):
        exact = float(np.quantile(values, q, method="inverted_cdf"))
        estimate = sketch.quantile(q)
        assert estimate is not None and abs(estimate / exact - 1) <= 0.01
