"""Compiling a reference profile (the contract in shared.events.reference_profile)."""

from __future__ import annotations

import numpy as np
import orjson
import pytest

from services.monitor.analysis.reference import (
    CategoricalReference,
    NumericReference,
    compile_reference,
)
from shared.errors import InvalidInput
from shared.events.reference_profile import parse_reference_profile
from shared.events.reference_sample import read_reference_sample, reference_sample_csv
from shared.reference_builder import build_reference_profile


def _doc(*features: dict[str, object], **extra: object) -> bytes:
    return orjson.dumps({"format": "modelbus.reference-profile/1", "features": features, **extra})


def test_categories_named_by_text_are_coded_by_label() -> None:
    colour = {"name": "colour", "kind": "categorical", "count": 3, "missing_rate": 0.0}
    prediction = {**colour, "name": "prediction", "count": 100, "categories": {"no": 70, "yes": 30}}
    profile = parse_reference_profile(
        _doc({**colour, "categories": {"2": 1, "0": 2}}, prediction=prediction)
    )
    compiled = compile_reference(profile, None)
    (code,) = compiled.features
    assert isinstance(code, CategoricalReference) and code.numeric
    assert code.values.tolist() == [0.0, 2.0] and code.labels == ["0", "2"]
    pred = compiled.prediction
    assert isinstance(pred, CategoricalReference) and not pred.numeric
    codes = pred.encode(["yes", "no", "maybe"])
    yes, no = (pred.values[pred.labels.index(label)] for label in ("yes", "no"))
    assert codes[0] == yes and codes[1] == no and codes[2] not in pred.values


def test_colliding_categories_are_refused() -> None:
    colour = {"name": "c", "kind": "categorical", "count": 2, "missing_rate": 0.0}
    with pytest.raises(InvalidInput, match="collide"):
        compile_reference(
            parse_reference_profile(_doc({**colour, "categories": {"1": 1, "1.0": 1}})), None
        )


def test_feature_never_present_in_the_reference_is_kept_for_its_missing_rate() -> None:
    doc = _doc({"name": "x", "kind": "numeric", "count": 0, "missing_rate": 1.0})
    compiled = compile_reference(parse_reference_profile(doc), None)
    assert compiled.features[0].empty


def test_a_sample_with_other_columns_than_the_profile_is_refused() -> None:
    profile = build_reference_profile(np.zeros((5, 2)), ["a", "b"], task="regression")
    with pytest.raises(InvalidInput, match="columns"):
        compile_reference(profile, np.zeros((5, 3)))


def test_what_the_trainer_writes_is_compiled() -> None:
    """Columns, kinds and counts of the builder's profile, and its sample read back."""
    rng = np.random.default_rng(0)
    X = np.column_stack(
        [
            rng.normal(size=500),
            rng.integers(0, 3, 500).astype(float),
            np.full(500, np.nan),
            np.full(500, 4.0),
        ]
    )
    names = ["x", "code", "empty", "constant"]
    y = rng.integers(0, 2, 500)
    profile = build_reference_profile(
        X, names, task="classification", predictions=y[:100], target_name="label", target=y
    )
    profile = parse_reference_profile(profile.to_json())
    assert profile.feature_names == names
    assert profile.target is not None and profile.target.name == "label"
    sample = read_reference_sample(
        reference_sample_csv(X, names, target_name="label", target=y, rows=200), names
    )
    x, code, empty, constant = compile_reference(profile, sample).features
    assert isinstance(x, NumericReference) and x.grid is not None and not x.empty
    assert isinstance(code, CategoricalReference) and code.numeric
    assert code.counts.sum() == 500
    assert empty.empty and not constant.empty
