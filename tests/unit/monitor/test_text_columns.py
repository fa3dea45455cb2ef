"""A free-text input is watched by its word counts, from the logged text to the drift test."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import numpy as np

from services.monitor.analysis.drift import evaluate
from services.monitor.analysis.labelled import render_csv
from services.monitor.analysis.monitored import Version
from services.monitor.analysis.open_window import absorb, fresh
from services.monitor.analysis.prediction_batch import feature_rows
from services.monitor.analysis.reference import category_code, compile_reference
from services.monitor.analysis.thresholds import Thresholds
from services.monitor.windows.labelled_export import _text
from shared.reference_builder import build_reference_profile
from shared.text_features import word_count

rng = np.random.default_rng(11)
WORDS = "car repair holiday school fees kitchen wedding furniture".split()


def _note(low: int, high: int) -> str:
    return " ".join(rng.choice(WORDS, size=int(rng.integers(low, high))))


def _version() -> Version:
    notes = [_note(4, 12) for _ in range(3000)]
    table = np.array(
        [[word_count(n), c] for n, c in zip(notes, rng.choice(3, 3000), strict=True)], dtype=object
    )
    profile = build_reference_profile(
        table, ["note", "channel"], task="classification", words={"note"}
    )
    assert [f.measure for f in profile.features] == ["words", None]
    reference = compile_reference(profile, None)
    assert reference.words == (0,)
    return Version(
        "notes", 1, "classification", ["note", "channel"], "y", Thresholds(min_rows=50), reference
    )


def _rows(notes: list[str], words: tuple[int, ...]) -> list[dict[str, Any]]:
    inputs = [{"note": [[n]], "channel": [[float(rng.integers(0, 3))]]} for n in notes]
    now = datetime.now(UTC)
    return [
        {"ok": True, "schema_error": problem, "n_cols": 2, "latency_ms": 1.0, "event_time": now,
         "features": matrix.astype("<f8").tobytes(), "outputs": "{}"}
        for matrix, problem in feature_rows(inputs, words)
    ]  # fmt: skip


def test_logged_text_is_stored_as_its_word_count() -> None:
    ((matrix, problem),) = feature_rows(
        [{"note": [["a car loan for the kitchen"]], "c": [["DE"]]}], (0,)
    )
    assert problem is None
    np.testing.assert_array_equal(matrix, [[5.0, category_code("DE")]])  # "a" is no word
    ((empty, _),) = feature_rows([{"note": [[""]], "c": [["DE"]]}], (0,))
    assert np.isnan(empty[0, 0])


def test_shorter_notes_drift_and_notes_like_the_reference_do_not() -> None:
    version = _version()
    same = fresh(1, datetime.now(UTC), version)
    absorb(same, version, _rows([_note(4, 12) for _ in range(600)], version.reference.words))
    report = evaluate(same.acc, version.thresholds)
    assert report is not None and not report.drifted

    shorter = fresh(2, datetime.now(UTC), version)
    absorb(shorter, version, _rows([_note(1, 4) for _ in range(600)], version.reference.words))
    report = evaluate(shorter.acc, version.thresholds)
    assert report is not None and report.top_features == ["note"]


def test_a_text_stored_before_its_version_was_known_counts_as_missing() -> None:
    version = _version()
    window = fresh(1, datetime.now(UTC), version)
    # Without the reference's word columns the text is a category code (a 48-bit hash).
    absorb(window, version, _rows([_note(4, 12) for _ in range(100)], ()))
    assert window.acc.quality()["missing_rate.note"] == 1.0


def test_retraining_data_leaves_a_free_text_column_empty() -> None:
    version = _version()
    ((matrix, _),) = feature_rows([{"note": [["a car loan for the kitchen"]], "c": [[2.0]]}], (0,))
    record = {"n_rows": 1, "n_cols": 2, "features": matrix.astype("<f8").tobytes(), "value": "1"}
    data, written = render_csv(version.feature_names, "y", [record], _text(version))
    # A count is no text to train on: the note is missing, the channel its number.
    assert written == 1 and data.decode().splitlines() == ["note,channel,y", ",2.0,1"]
