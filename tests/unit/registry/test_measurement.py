"""Measuring a model on evaluation data: which columns feed which inputs, what the
outputs mean, and the metrics, fairness gaps and parity that come out (pure, in-process)."""

from __future__ import annotations

import numpy as np
import onnxruntime
import pytest

from services.registry.domain.eval_table import read_csv
from services.registry.domain.measurement import Measuring, measure
from services.registry.domain.refusal import Check, Refusal
from services.registry.domain.validation import load_model
from shared.evaluation.metrics import classification_metrics
from tests.support.onnx_models import (
    logistic_regression_eval_csv,
    logistic_regression_onnx,
    regression_onnx,
    two_inputs_eval_csv,
    two_inputs_fp64_onnx,
)

LIMIT = 10**8


def test_two_named_fp64_inputs_are_fed_by_their_columns() -> None:
    data, reference = two_inputs_eval_csv(rows=300, seed=1)
    loaded = load_model(two_inputs_fp64_onnx(), max_bytes=LIMIT)
    table = read_csv(data.encode(), what="evaluation data", max_rows=1000)
    measured = measure(
        loaded.session,
        loaded.signature,
        table,
        Measuring("classification", "y", "group"),
        reference=read_csv(reference.encode(), what="reference predictions", max_rows=1000),
    )
    y = table.labels("y")
    predicted = read_csv(reference.encode(), what="r", max_rows=1000).labels("prediction")
    assert measured.metrics["accuracy"] == pytest.approx(float(np.mean(predicted == y)))
    assert {"roc_auc", "f1", "log_loss"} <= set(measured.metrics)  # probabilities were used
    assert measured.parity_passed is True and measured.parity == {"label_mismatches": 0.0}
    assert measured.fairness["groups"] == 2.0 and measured.rows == 300


def test_one_matrix_input_takes_every_column_but_the_target() -> None:
    data, reference = logistic_regression_eval_csv()
    loaded = load_model(logistic_regression_onnx().onnx, max_bytes=LIMIT)
    table = read_csv(data.encode(), what="evaluation data", max_rows=1000)
    measured = measure(
        loaded.session,
        loaded.signature,
        table,
        Measuring("classification", "y"),
        reference=read_csv(reference.encode(), what="reference predictions", max_rows=1000),
    )
    X = np.column_stack([table.numbers(f"f{i}", np.float32) for i in range(30)])
    session = onnxruntime.InferenceSession(logistic_regression_onnx().onnx)
    label, proba = session.run(None, {"X": X})
    expected = classification_metrics(table.labels("y"), label, proba, np.array([0, 1]))
    assert measured.metrics == pytest.approx(expected)
    assert measured.parity_passed is True


def test_a_sensitive_attribute_the_model_does_not_take_is_left_out_of_its_input() -> None:
    data, _ = logistic_regression_eval_csv()
    lines = data.splitlines()
    extra = [lines[0] + ",sex", *(f"{line},{i % 2}" for i, line in enumerate(lines[1:]))]
    loaded = load_model(logistic_regression_onnx().onnx, max_bytes=LIMIT)
    table = read_csv("\n".join(extra).encode(), what="evaluation data", max_rows=1000)
    measured = measure(loaded.session, loaded.signature, table,
                       Measuring("classification", "y", "sex"))  # fmt: skip
    assert measured.parity_passed is None  # nothing to compare with
    assert set(measured.fairness) == {
        "demographic_parity_difference",
        "equal_opportunity_difference",
        "groups",
        "min_group_size",
    }


def test_regression_parity_that_fails_says_by_how_much() -> None:
    built = regression_onnx()
    header = ",".join(f"x{i}" for i in range(10)) + ",y"
    rows = [",".join(f"{v:.9g}" for v in x) + f",{p:.9g}" for x, p in
            zip(built.X_holdout, built.expected, strict=True)]  # fmt: skip
    wrong = ["prediction", *(f"{p + 5:.9g}" for p in built.expected)]
    loaded = load_model(built.onnx, max_bytes=LIMIT)
    measured = measure(
        loaded.session,
        loaded.signature,
        read_csv("\n".join([header, *rows]).encode(), what="evaluation data", max_rows=1000),
        Measuring("regression", "y"),
        reference=read_csv("\n".join(wrong).encode(), what="reference", max_rows=1000),
    )
    assert measured.metrics["r2"] == pytest.approx(1.0, abs=1e-6)
    assert measured.parity_passed is False
    assert measured.parity["max_abs_diff"] == pytest.approx(5.0, abs=1e-3)


@pytest.mark.parametrize(
    ("csv", "said"),
    [
        ("a,b,y\n1,secret-value,0\n", "data row 1, column 'b': the value is not a number"),
        ("a,y\n1,0\n", "no column 'b'"),
        ("a,b,y\n1,2\n", "data row 1: not as many fields as the header"),
        ("a,b,y\n", "no data rows"),
    ],
)
def test_unusable_evaluation_data_is_refused_naming_the_place_never_the_value(
    csv: str, said: str
) -> None:
    loaded = load_model(two_inputs_fp64_onnx(), max_bytes=LIMIT)
    with pytest.raises(Refusal) as caught:
        table = read_csv(csv.encode(), what="evaluation data", max_rows=10)
        measure(loaded.session, loaded.signature, table, Measuring("classification", "y"))
    assert list(caught.value.failures) == [Check.EVALUATION]
    assert said in caught.value.reason and "secret-value" not in caught.value.reason


def test_more_rows_than_the_limit_are_refused() -> None:
    with pytest.raises(Refusal, match="more than 2 rows"):
        read_csv(b"a,b,y\n1,1,0\n2,2,1\n3,3,0\n", what="evaluation data", max_rows=2)
