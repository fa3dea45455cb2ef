"""ONNX export with skl2onnx, and the parity check that decides whether the export is kept.

The exported graph has one FP32 input ``input`` of shape ``[-1, n_features]`` (features in
the order of ``params["feature_names"]``), or, with categorical features, one input per
column (:mod:`services.trainer.training.mixed`). Classifiers output the tensors ``label`` and
``probabilities`` (no ZipMap); regressors output ``variable`` of shape ``[-1, 1]``.

Parity, on the holdout cast to float32 (what a client sends): labels identical;
probabilities within 1e-4 absolutely; regression values within 1e-4 relative to
``max(1, |value|)``: float32 carries about seven significant digits, so an absolute 1e-4
on values in the hundreds would ask more than FP32 arithmetic can give.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
from skl2onnx import convert_sklearn
from skl2onnx.common import tree_ensemble
from skl2onnx.common.data_types import FloatTensorType
from skl2onnx.operator_converters import random_forest
from sklearn.pipeline import Pipeline

from services.trainer.training import mixed
from services.trainer.training.errors import ParityError
from shared.evaluation.parity import TOLERANCE, relative_difference

INPUT_NAME = "input"

_hgb_tree_to_attributes = tree_ensemble.add_tree_to_attribute_pairs_hist_gradient_boosting


def _hgb_tree_for_float32(
    attr_pairs: dict[str, list[Any]],
    is_classifier: bool,
    tree: Any,
    tree_id: int,
    tree_weight: float,
    weight_id_bias: int,
    leaf_weights_are_counts: bool,
    adjust_threshold_for_sklearn: bool = False,
    dtype: Any = None,
) -> None:
    """skl2onnx 1.20's histogram-gradient-boosting export, with two of its bugs fixed.

    It writes NumPy booleans into an ONNX integer attribute (onnx>=1.17 refuses them), and
    it rounds float64 thresholds to float32 unadjusted, so an input equal to a rounded
    threshold takes the other branch than in scikit-learn. Decision trees and forests
    already get the adjustment (``adjust_threshold_for_sklearn``); here it is asked for too.
    """
    start = len(attr_pairs["nodes_missing_value_tracks_true"])
    _hgb_tree_to_attributes(
        attr_pairs,
        is_classifier,
        tree,
        tree_id,
        tree_weight,
        weight_id_bias,
        leaf_weights_are_counts,
        True,
        dtype=dtype,
    )
    tracks = attr_pairs["nodes_missing_value_tracks_true"]
    tracks[start:] = [int(v) for v in tracks[start:]]


random_forest.add_tree_to_attribute_pairs_hist_gradient_boosting = _hgb_tree_for_float32


def to_onnx(
    pipeline: Pipeline, n_features: int, *, classifier: bool, layout: mixed.Layout | None = None
) -> bytes:
    options: dict[int, dict[str, Any]] = (
        {id(pipeline.steps[-1][1]): {"zipmap": False}} if classifier else {}
    )
    if layout is not None:
        options |= mixed.onnx_options(pipeline.named_steps["prepare"])
    inputs = (
        mixed.initial_types(layout)
        if layout is not None
        else [(INPUT_NAME, FloatTensorType([None, n_features]))]
    )
    model = convert_sklearn(pipeline, initial_types=inputs, options=options or None)
    onnx.checker.check_model(model, full_check=True)
    return bytes(model.SerializeToString())


@dataclass(frozen=True)
class Parity:
    max_abs_diff: float
    label_mismatches: int


def check_parity(
    onnx_bytes: bytes,
    pipeline: Pipeline,
    X: Any,
    *,
    classifier: bool,
    layout: mixed.Layout | None = None,
) -> Parity:
    """Compare ONNX Runtime with scikit-learn on ``X``; :class:`ParityError` if they differ."""
    if layout is not None:
        X32 = mixed.as_float32(X, layout)
        feed = mixed.feeds(X32, layout)
    else:
        X32 = np.ascontiguousarray(X, dtype=np.float32)
        feed = {INPUT_NAME: X32}
    session = ort.InferenceSession(onnx_bytes, providers=["CPUExecutionProvider"])
    outputs = dict(
        zip(
            [o.name for o in session.get_outputs()],
            session.run(None, feed),
            strict=True,
        )
    )
    if classifier:
        labels, proba = outputs["label"], outputs["probabilities"]
        expected_labels = pipeline.predict(X32)
        mismatches = int(np.sum(labels.astype(expected_labels.dtype) != expected_labels))
        diff = float(np.max(np.abs(proba - pipeline.predict_proba(X32)), initial=0.0))
        parity = Parity(diff, mismatches)
        if mismatches or diff > TOLERANCE:
            raise ParityError(
                f"ONNX export differs from scikit-learn on the holdout: {mismatches} labels "
                f"differ, largest probability difference {diff:.3g} (tolerance {TOLERANCE})"
            )
        return parity
    expected = pipeline.predict(X32)
    values = outputs["variable"].reshape(-1)
    relative = relative_difference(values, expected)
    if np.max(relative, initial=0.0) > TOLERANCE:
        raise ParityError(
            "ONNX export differs from scikit-learn on the holdout: largest relative "
            f"difference {float(np.max(relative)):.3g} (tolerance {TOLERANCE})"
        )
    return Parity(float(np.max(np.abs(values - expected), initial=0.0)), 0)
