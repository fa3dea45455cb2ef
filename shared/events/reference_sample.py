"""The reference sample: a uniform sample of the rows a reference profile describes.

The profile names it by claim check (``reference_sample``); the monitor uses it for exact
KS and Wasserstein on numeric features. CSV in UTF-8, at most :data:`SAMPLE_ROWS` rows,
a header naming the columns (the model's features, read by name, then the target when
there is one); an empty field is a missing value.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from shared.errors import InvalidInput

SAMPLE_ROWS = 5_000
MEDIA_TYPE = "text/csv"


def _cell(value: Any) -> str:
    if value is None or isinstance(value, str):
        return value or ""
    number = float(value)
    return "" if math.isnan(number) else repr(number)


def reference_sample_csv(
    features: NDArray[Any],
    feature_names: Sequence[str],
    *,
    target_name: str | None = None,
    target: ArrayLike | None = None,
    rows: int = SAMPLE_ROWS,
    seed: int = 0,
) -> bytes:
    """At most ``rows`` rows of ``features`` (and ``target``), chosen uniformly by ``seed``
    and kept in their original order. ``features`` may be an object array with text
    columns (``None`` where missing), written as they are."""
    chosen = np.arange(features.shape[0])
    if chosen.size > rows:
        chosen = np.sort(np.random.default_rng(seed).choice(chosen, rows, replace=False))
    labels = None if target is None or target_name is None else np.asarray(target)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([*feature_names, *([target_name] if labels is not None else [])])
    for i in chosen:
        cells = [_cell(v) for v in features[i]]
        if labels is not None:
            label = labels[i]
            cells.append(repr(float(label)) if isinstance(label, np.floating) else str(label))
        writer.writerow(cells)
    return out.getvalue().encode()


def _number(cell: str) -> float:
    # A cell that is not a number (a category spelled as text) reads as missing: only
    # numeric features use the sample.
    try:
        return float(cell) if cell != "" else math.nan
    except ValueError:
        return math.nan


def read_reference_sample(raw: bytes, feature_names: Sequence[str]) -> NDArray[np.float64]:
    """The sample as a float matrix, one column per feature in ``feature_names`` order."""
    try:
        rows = list(csv.reader(io.StringIO(raw.decode("utf-8"))))
    except (UnicodeDecodeError, csv.Error) as exc:
        raise InvalidInput(f"reference sample is not CSV: {exc}") from exc
    if not rows:
        raise InvalidInput("reference sample CSV is empty")
    header = rows[0]
    missing = [n for n in feature_names if n not in header]
    if missing:
        raise InvalidInput(f"reference sample CSV lacks columns {missing}")
    columns = [header.index(n) for n in feature_names]
    try:
        values = [[_number(r[c]) for c in columns] for r in rows[1:]]
    except IndexError as exc:
        raise InvalidInput("reference sample CSV has a row shorter than its header") from exc
    return np.array(values, dtype=np.float64).reshape(-1, len(columns))
