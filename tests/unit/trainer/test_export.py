"""ONNX export and the parity check that guards it."""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest
from sklearn.datasets import load_diabetes, make_classification
from sklearn.model_selection import train_test_split

from services.trainer.training.candidates import build_pipeline
from services.trainer.training.errors import ParityError
from services.trainer.training.onnx_export import check_parity, to_onnx


def test_histogram_boosting_regression_exports_with_parity() -> None:
    # skl2onnx 1.20 alone fails this: boolean attributes, and unadjusted float32 thresholds
    # sent some diabetes holdout rows down the other branch (differences of up to 8.5).
    X, y = load_diabetes(return_X_y=True)
    X_train, X_hold, y_train, _ = train_test_split(X, y, test_size=0.2, random_state=0)
    pipeline = build_pipeline(
        "hist_gradient_boosting", "regression", seed=0, params={}, impute=False
    ).fit(X_train, y_train)
    model = to_onnx(pipeline, X.shape[1], classifier=False)
    assert check_parity(model, pipeline, X_hold, classifier=False).max_abs_diff < 1e-3


def test_classifier_graph_has_one_input_and_tensor_outputs() -> None:
    X, y = make_classification(n_samples=80, n_features=4, random_state=0)
    pipeline = build_pipeline(
        "hist_gradient_boosting", "classification", seed=0, params={"max_iter": 10}, impute=True
    ).fit(X, y)
    session = ort.InferenceSession(
        to_onnx(pipeline, 4, classifier=True), providers=["CPUExecutionProvider"]
    )
    assert [(i.name, i.shape) for i in session.get_inputs()] == [("input", [None, 4])]
    assert [o.name for o in session.get_outputs()] == ["label", "probabilities"]


def test_a_model_that_differs_from_its_export_fails_parity() -> None:
    X, y = make_classification(n_samples=80, n_features=4, random_state=0)
    pipeline = build_pipeline(
        "logistic_regression", "classification", seed=0, params={}, impute=False
    ).fit(X, y)
    model = to_onnx(pipeline, 4, classifier=True)
    pipeline[-1].coef_ = pipeline[-1].coef_ * 1.01  # the scikit-learn side drifts a little
    with pytest.raises(ParityError, match="probability difference"):
        check_parity(model, pipeline, X.astype(np.float64), classifier=True)
