"""Training on a table with a free-text column: TF-IDF inside the graph, word counts outside."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from services.trainer.training.errors import DataError
from services.trainer.training.tables import is_text
from services.trainer.training.train import Inputs, train
from shared.events.reference_profile import parse_reference_profile
from shared.text_features import word_count
from tests.support import loan_notes
from tests.unit.trainer.file_requests import csv_request


def _request(
    tmp_path: Path, algorithm: str, schema: dict[str, str] | None = None, rows: Any = None
) -> Inputs:
    data = loan_notes.to_csv(rows or loan_notes.applications(800, seed=3))
    return csv_request(
        tmp_path / "notes.csv", data, model="notes", target=loan_notes.TARGET,
        algorithm=algorithm, schema=schema,
    )  # fmt: skip


def _feed(note: str, channel: str = "online", income: float = 3000.0) -> dict[str, np.ndarray]:
    return {
        "note": np.array([[note]], dtype=object),
        "channel": np.array([[channel]], dtype=object),
        "income": np.array([[income]], dtype=np.float32),
    }


@pytest.mark.parametrize("algorithm", ["logistic_regression", "hist_gradient_boosting"])
def test_a_free_text_column_is_weighed_inside_the_graph(tmp_path: Path, algorithm: str) -> None:
    out = train(_request(tmp_path, algorithm), lambda message, done: None)

    params = out.summary["params"]
    assert params["inputs"] == {"note": "text", "channel": "categorical", "income": "numeric"}
    assert out.summary["metrics"]["onnx_max_abs_diff"] < 1e-4  # parity on the holdout
    assert (
        out.summary["metrics"]["accuracy"] > 0.7
    )  # the words carry the signal (the majority class: 0.55)
    model = onnx.load_model_from_string(out.model)
    kinds = {i.name: i.type.tensor_type.elem_type for i in model.graph.input}
    assert kinds["note"] == onnx.TensorProto.STRING

    session = ort.InferenceSession(out.model, providers=["CPUExecutionProvider"])
    risky = session.run(None, _feed("kitchen Gambling overdue car"))[1][0, 1]
    calm = session.run(None, _feed("kitchen garden car home"))[1][0, 1]
    assert risky > calm + 0.3  # upper case too: the graph lowercases as scikit-learn does
    for odd in ("words it never saw, ünïcode ✓", ""):  # still an answer
        label, proba = session.run(None, _feed(odd))
        assert label.shape == (1,) and abs(float(proba.sum()) - 1.0) < 1e-5

    profile = parse_reference_profile(out.profile)
    note = next(f for f in profile.features if f.name == "note")
    # Described by its word counts (3 to 9 words, a missing note now and then), no text.
    assert note.measure == "words" and note.missing_rate > 0
    assert note.kind == "categorical" and set(note.categories) <= {str(n) for n in range(3, 10)}
    assert next(f for f in profile.features if f.name == "channel").measure is None
    assert b"kitchen" not in out.profile and b"kitchen" not in out.reference_sample
    assert b"Gambling" not in out.reference_sample


def test_a_column_declared_str_stays_categorical(tmp_path: Path) -> None:
    schema = {"note": "str", "channel": "str", "income": "float", "defaulted": "int"}
    out = train(_request(tmp_path, "logistic_regression", schema), lambda m, d: None)
    assert out.summary["params"]["inputs"]["note"] == "categorical"


def test_a_text_column_without_a_word_is_refused_naming_it(tmp_path: Path) -> None:
    rows = loan_notes.applications(200, seed=3)
    for row in rows:
        row["note"] = "a b c - ?"  # present, but no token of two word characters
    schema = {"note": "text", "channel": "str", "income": "float", "defaulted": "int"}
    with pytest.raises(DataError, match="free-text columns with no word") as refused:
        train(_request(tmp_path, "logistic_regression", schema, rows), lambda m, d: None)
    assert "'note'" in str(refused.value) and "a b c" not in str(refused.value)


def test_which_string_columns_read_as_text() -> None:
    prose = [f"note number {i} about a loan" for i in range(30)]
    assert is_text(prose, None)
    assert not is_text(["DE", "FR", "IT"] * 10, None)  # few distinct values
    assert not is_text([f"id-{i}" for i in range(30)], None)  # distinct, but one word each
    assert not is_text(prose[:10], None)  # too few to tell
    assert is_text(["DE"] * 30, "text") and not is_text(prose, "str")
    assert word_count("It's a car-loan, 2 words? 12") == 5.0  # tokens of two+ word characters
    assert np.isnan(word_count("")) and np.isnan(word_count(None))
