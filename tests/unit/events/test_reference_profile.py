"""The reference profile contract: the document, its one builder, and the reference sample."""

from __future__ import annotations

from typing import Any

import numpy as np
import orjson
import pytest

from shared.errors import InvalidInput
from shared.events.reference_profile import (
    CategoricalColumn,
    NumericColumn,
    canonical_label,
    parse_reference_profile,
)
from shared.events.reference_sample import read_reference_sample, reference_sample_csv
from shared.reference_builder import build_reference_profile


def _numeric(**overrides: Any) -> dict[str, Any]:
    entry = {
        "name": "age",
        "kind": "numeric",
        "count": 100,
        "missing_rate": 0.1,
        "min": 0.0,
        "max": 2.0,
        "mean": 0.9,
        "std": 0.5,
        "bin_edges": [0.0, 1.0, 2.0],
        "bin_counts": [60, 40],
    }
    return {**entry, **overrides}


def _doc(*features: dict[str, Any], **overrides: Any) -> bytes:
    colour = {"name": "colour", "kind": "categorical", "count": 3, "missing_rate": 0.0}
    doc = {
        "format": "modelbus.reference-profile/1",
        "features": list(features) or [_numeric(), {**colour, "categories": {"0": 2, "1": 1}}],
        "target": {"name": "churned"},
        "prediction": {**colour, "name": "prediction", "categories": {"no": 2, "yes": 1}},
    }
    return orjson.dumps({**doc, **overrides})


def test_a_documented_profile_is_read() -> None:
    profile = parse_reference_profile(_doc())
    age, colour = profile.features
    assert isinstance(age, NumericColumn) and age.bin_counts == (60, 40)
    assert isinstance(colour, CategoricalColumn) and colour.categories == {"0": 2, "1": 1}
    assert profile.feature_names == ["age", "colour"]
    assert profile.target is not None and profile.target.name == "churned"
    assert parse_reference_profile(profile.to_json()) == profile


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        (b"not json", "Invalid JSON"),
        (_doc(format="modelbus.reference-profile/2"), "format"),
        (orjson.dumps({"format": "modelbus.reference-profile/1", "features": []}), "features"),
        (_doc(_numeric(bin_edges=[0, 1])), r"K\+1"),
        (_doc(_numeric(bin_edges=[2.0, 1.0, 3.0])), "strictly ascending"),
        (_doc(_numeric(bin_edges=[0.0, 1.0, 1.0])), "strictly ascending"),
        (_doc(_numeric(bin_counts=[60, 41])), "sum to count"),
        (_doc(_numeric(std=None)), "needs min, max, mean and std"),
        (_doc(_numeric(count=0)), "never present"),
        (_doc(_numeric(kind="strange")), "kind"),
        (_doc(_numeric(type="numeric")), "Extra inputs"),
        (_doc(_numeric(), _numeric()), "unique"),
        (_doc({"name": "c", "kind": "categorical", "count": 1, "missing_rate": 0}), "categories"),
        (
            _doc({**_numeric(), "kind": "categorical", "categories": {"0": 0.5, "1": 0.5}}),
            "categories",
        ),
    ],
)
def test_a_profile_off_the_contract_is_refused_with_a_reason(doc: bytes, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        parse_reference_profile(doc)


def test_constant_and_absent_columns_have_one_form_each() -> None:
    constant = _numeric(count=5, min=4.0, max=4.0, mean=4.0, std=0.0, bin_edges=[4.0, 4.0])
    absent = {"name": "gone", "kind": "numeric", "count": 0, "missing_rate": 1.0}
    profile = parse_reference_profile(_doc({**constant, "bin_counts": [5]}, absent))
    assert [f.count for f in profile.features] == [5, 0]


def test_labels_have_one_spelling() -> None:
    assert [canonical_label(v) for v in (1, 1.0, True, "1", 0.5, "red")] == [
        "1",
        "1",
        "1",
        "1",
        "0.5",
        "red",
    ]


def test_the_builder_profiles_as_the_trainer_chooses() -> None:
    rng = np.random.default_rng(0)
    X = np.column_stack(
        [rng.normal(size=200), rng.integers(0, 3, 200).astype(float), np.full(200, 4.0)]
    )
    X[:20, 0] = np.nan
    X[:, 2][:5] = np.nan
    profile = build_reference_profile(
        X,
        ["x", "colour", "constant"],
        task="classification",
        predictions=np.array([0, 0, 1, 1]),
        target_name="y",
        target=np.array(["a", "b"] * 100),
    )
    x, colour, constant = profile.features
    assert isinstance(x, NumericColumn) and x.missing_rate == pytest.approx(0.1)
    assert len(x.bin_edges) == 11 and sum(x.bin_counts) == 180 == x.count
    assert x.bin_edges[0] == x.min and x.bin_edges[-1] == x.max
    assert isinstance(colour, CategoricalColumn) and set(colour.categories) == {"0", "1", "2"}
    assert sum(colour.categories.values()) == 200  # counts, keyed "1" rather than "1.0"
    assert isinstance(constant, CategoricalColumn) and constant.categories == {"4": 195}
    assert profile.prediction == CategoricalColumn(
        name="prediction", count=4, missing_rate=0.0, categories={"0": 2, "1": 2}
    )
    assert profile.target is not None and profile.target.distribution is not None
    assert profile.target.distribution.categories == {"a": 100, "b": 100}  # type: ignore[union-attr]
    assert parse_reference_profile(profile.to_json()) == profile


def test_regression_predictions_are_profiled_as_numbers() -> None:
    profile = build_reference_profile(
        np.arange(60.0).reshape(30, 2),
        ["a", "b"],
        task="regression",
        predictions=np.linspace(0, 1, 50),
    )
    assert isinstance(profile.prediction, NumericColumn) and profile.prediction.count == 50
    empty = build_reference_profile(np.full((3, 1), np.nan), ["e"], task="regression")
    assert empty.features[0] == NumericColumn(name="e", count=0, missing_rate=1.0)


def test_the_sample_is_read_by_column_name() -> None:
    X = np.array([[1.5, 2.0], [np.nan, 3.25], [0.1, 7.0]])
    raw = reference_sample_csv(X, ["b", "a"], target_name="y", target=np.array([0, 1, 0]))
    assert raw.decode().splitlines()[0] == "b,a,y"
    sample = read_reference_sample(raw, ["a", "b"])
    assert sample[:, 0].tolist() == [2.0, 3.25, 7.0]
    assert np.isnan(sample[1, 1]) and sample[2, 1] == 0.1  # floats survive the round trip
    with pytest.raises(InvalidInput, match="lacks columns"):
        read_reference_sample(raw, ["a", "c"])


def test_the_sample_is_uniform_at_most_rows_and_in_order() -> None:
    X = np.arange(100.0).reshape(-1, 1)
    sample = read_reference_sample(reference_sample_csv(X, ["x"], rows=10, seed=3), ["x"])
    assert sample.shape == (10, 1) and np.all(np.diff(sample[:, 0]) > 0)
