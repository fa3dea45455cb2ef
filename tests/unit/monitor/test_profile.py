"""Reading reference profiles: the documented format, the trainer's output, bad documents."""

from __future__ import annotations

import numpy as np
import orjson
import pytest

from services.monitor.profile import CategoricalProfile, NumericProfile, parse_profile
from services.monitor.reference import (
    CategoricalReference,
    NumericReference,
    compile_reference,
    load_sample,
)
from shared.errors import InvalidInput


def _doc(**overrides: object) -> bytes:
    doc = {
        "features": [
            {
                "name": "age",
                "kind": "numeric",
                "count": 100,
                "missing_rate": 0.1,
                "bin_edges": [0.0, 1.0, 2.0],
                "bin_counts": [60, 40],
            },
            {
                "name": "colour",
                "type": "categorical",
                "count": 200,
                "frequencies": {"0": 0.5, "1": 0.25, "2": 0.25},
            },
        ],
        "target": {"name": "churned"},
        "prediction": {"kind": "categorical", "categories": {"no": 70, "yes": 30}},
    }
    doc.update(overrides)
    return orjson.dumps(doc)


def test_documented_format_with_aliases() -> None:
    profile = parse_profile(_doc())
    age, colour = profile.features
    assert isinstance(age, NumericProfile) and age.low == 0.0 and age.high == 2.0
    assert isinstance(colour, CategoricalProfile)
    assert colour.categories == {"0": 100.0, "1": 50.0, "2": 50.0}  # frequencies x count
    assert profile.target_name == "churned"
    assert profile.prediction is not None and profile.prediction.name == "prediction"
    compiled = compile_reference(profile, None)
    pred = compiled.prediction
    assert pred is not None and not pred.numeric  # type: ignore[union-attr]
    codes = pred.encode(["yes", "no", "maybe"])
    assert codes[0] == 1.0 and codes[1] == 0.0 and np.isinf(codes[2])


def test_features_as_an_object_keep_their_order() -> None:
    doc = {
        "features": {
            "b": {"kind": "categorical", "categories": {"1": 3}},
            "a": {"kind": "categorical", "categories": {"1": 3}},
        }
    }
    assert parse_profile(orjson.dumps(doc)).feature_names == ["b", "a"]


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        (b"not json", "not JSON"),
        (orjson.dumps({"features": []}), "no features"),
        (
            orjson.dumps(
                {
                    "features": [
                        {
                            "name": "x",
                            "kind": "numeric",
                            "count": 3,
                            "bin_edges": [0, 1],
                            "bin_counts": [1, 2],
                        }
                    ]
                }
            ),
            r"K\+1",
        ),
        (
            orjson.dumps(
                {
                    "features": [
                        {"name": "x", "kind": "numeric", "bin_edges": [2, 1], "bin_counts": [1]}
                    ]
                }
            ),
            "ascending",
        ),
        (orjson.dumps({"features": [{"name": "x", "kind": "strange"}]}), "no known kind"),
        (orjson.dumps({"features": [{"name": "x", "kind": "categorical"}]}), "categories"),
    ],
)
def test_bad_profiles_are_refused_with_a_reason(doc: bytes, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        parse_profile(doc)


def test_feature_never_present_in_the_reference_is_kept_for_its_missing_rate() -> None:
    doc = {"features": [{"name": "x", "kind": "numeric", "count": 0, "missing_rate": 1.0}]}
    compiled = compile_reference(parse_profile(orjson.dumps(doc)), None)
    assert compiled.features[0].empty


def test_sample_as_csv_is_read_by_column_name() -> None:
    raw = b"b,a,target\n1.5,2,0\n,3.25,1\n"
    sample = load_sample(raw, ["a", "b"])
    assert sample.shape == (2, 2)
    assert sample[0].tolist() == [2.0, 1.5]
    assert sample[1, 0] == 3.25 and np.isnan(sample[1, 1])
    with pytest.raises(InvalidInput, match="lacks columns"):
        load_sample(raw, ["a", "c"])


def test_the_trainers_profile_is_read() -> None:
    """Contract: what services/trainer writes, the monitor reads (columns, kinds, counts)."""
    trainer = pytest.importorskip("services.trainer.training.profile")
    rng = np.random.default_rng(0)
    X = np.column_stack(
        [
            rng.normal(size=500),
            rng.integers(0, 3, 500).astype(float),
            np.full(500, np.nan),
            np.full(500, 4.0),
        ]
    )
    y = rng.integers(0, 2, 500)
    doc = trainer.build_profile(
        task="classification",
        target="label",
        feature_names=["x", "code", "empty", "constant"],
        X_train=X,
        y_train=y,
        holdout_predictions=y[:100],
    )
    profile = parse_profile(orjson.dumps(doc))
    assert profile.feature_names == ["x", "code", "empty", "constant"]
    assert profile.target_name == "label"
    x, code, empty, constant = compile_reference(profile, X[:200]).features
    assert isinstance(x, NumericReference) and x.grid is not None and not x.empty
    assert isinstance(code, CategoricalReference) and code.numeric
    assert code.counts.sum() == pytest.approx(500)
    assert empty.empty and not constant.empty
