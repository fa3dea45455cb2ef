"""Reading a CSV or Parquet file into typed columns, checking a declared schema on the way.

A feature is numeric (``float``, ``int``, ``bool``), categorical (``str``) or free text
(``text``): declared so in the schema, or else categorical when a value present is not a
number, and text when such a column reads as prose (:func:`is_text`). Empty cells and
``NA``/``NaN``/``null`` are missing values (NaN in a numeric column, the empty string in a
categorical one).

An error names the place (data row, column) and the rule it breaks, never a value read
from the file: the message travels in ``training.failed`` and the job's record, and the
file may hold what its requester was not meant to see. A column is named by what the
caller passes as its label (see :func:`services.trainer.training.datasets.load_file`).
"""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Any, Literal

import numpy as np

from services.trainer.training.errors import DataError
from shared.events.reference_profile import canonical_label
from shared.text_features import word_count

ColumnType = Literal["float", "int", "str", "bool", "text"]
Columns = dict[str, list[Any]]

MISSING = frozenset({"", "na", "nan", "null", "none"})
_TRUE = frozenset({"true", "1", "yes", "t", "y"})
_FALSE = frozenset({"false", "0", "no", "f", "n"})


def read_columns(
    path: Path, fmt: Literal["csv", "parquet"], *, max_cells: int | None = None
) -> Columns:
    """All columns of the file by name, values as read (strings from CSV). More than
    ``max_cells`` cells (rows x columns) is a :class:`DataError`, raised before they are
    all in memory: a cell read costs tens of bytes, far more than it takes in the file."""
    limit = max_cells if max_cells is not None else math.inf
    columns = _read_parquet(path, limit) if fmt == "parquet" else _read_csv(path, limit)
    if not columns:
        raise DataError("the dataset has no columns")
    return columns


def _too_many_cells(limit: float) -> DataError:
    return DataError(
        f"the dataset has more than {limit:.0f} cells (rows x columns), the most the trainer "
        "reads (MODELBUS_TRAINER_MAX_DATASET_CELLS)"
    )


def _read_csv(path: Path, limit: float) -> Columns:
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if header is None:
            raise DataError("the CSV file is empty (no header row)")
        names = [h.strip() for h in header]
        if len(names) > limit:
            raise _too_many_cells(limit)
        if len(set(names)) != len(names):
            first, again = _repeated(names)
            raise DataError(f"the CSV header gives columns {first} and {again} the same name")
        columns: Columns = {name: [] for name in names}
        cells = 0
        for line_no, row in enumerate(reader, start=2):
            if not row:
                continue
            cells += len(names)
            if cells > limit:
                raise _too_many_cells(limit)
            if len(row) != len(names):
                raise DataError(f"CSV line {line_no} does not have as many fields as the header")
            for name, value in zip(names, row, strict=True):
                columns[name].append(value)
    return columns


def _read_parquet(path: Path, limit: float) -> Columns:
    try:
        import pyarrow.parquet as pq
    except ImportError as exc:  # an optional dependency: say what is missing
        raise DataError("reading Parquet needs the pyarrow package on the trainer") from exc
    try:
        meta = pq.read_metadata(path)
        if meta.num_rows * meta.num_columns > limit:
            raise _too_many_cells(limit)
        table = pq.read_table(path)
    except DataError:
        raise
    except Exception as exc:  # pyarrow raises several types for a corrupt file
        raise DataError(f"the Parquet file cannot be read ({type(exc).__name__})") from exc
    return {name: table.column(name).to_pylist() for name in table.column_names}


def is_missing(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, float):
        return math.isnan(value)
    return isinstance(value, str) and value.strip().lower() in MISSING


def _repeated(names: list[str]) -> tuple[int, int]:
    """The 1-based positions of the first name the header gives twice."""
    seen: dict[str, int] = {}
    for position, name in enumerate(names, start=1):
        if name in seen:
            return seen[name], position
        seen[name] = position
    raise AssertionError("no repeated name")


def numeric_column(label: str, values: list[Any], declared: ColumnType | None) -> np.ndarray:
    """A float64 column (NaN for missing), or :class:`DataError` naming the first bad row."""
    out = np.empty(len(values), dtype=np.float64)
    for i, value in enumerate(values):
        if is_missing(value):
            out[i] = np.nan
        elif declared == "bool":
            out[i] = _to_bool(f"data row {i + 1}, {label}", value)
        else:
            out[i] = _to_number(f"data row {i + 1}, {label}", value, declared)
    return out


def is_categorical(values: list[Any], declared: ColumnType | None) -> bool:
    """Whether a feature column is categorical: declared ``str``, or undeclared with a value
    present that is not a number."""
    if declared is not None:
        return declared in ("str", "text")
    for value in values:
        if isinstance(value, bool | int | float) or is_missing(value):
            continue
        try:
            float(value)
        except (TypeError, ValueError):
            return True
    return False


# An undeclared string column is free text when its values are mostly distinct and hold
# several words each: one-hot encoding it would give a column per sentence.
TEXT_MIN_VALUES = 20
TEXT_MIN_DISTINCT = 0.5  # distinct values / values present
TEXT_MIN_WORDS = 3.0  # mean words per value present


def is_text(values: list[Any], declared: ColumnType | None) -> bool:
    """Whether a categorical feature column is free text: declared ``text``, or undeclared
    with at least :data:`TEXT_MIN_VALUES` values present, mostly distinct and of
    :data:`TEXT_MIN_WORDS` words on average."""
    if declared is not None:
        return declared == "text"
    present = [str(v) for v in values if not is_missing(v)]
    if len(present) < TEXT_MIN_VALUES or len(set(present)) < TEXT_MIN_DISTINCT * len(present):
        return False
    return sum(word_count(v) for v in present) / len(present) >= TEXT_MIN_WORDS


def category_column(values: list[Any], missing: str) -> np.ndarray:
    """An object array of stripped strings, ``missing`` where a value is missing."""
    return np.array(
        [missing if is_missing(v) else canonical_label(v).strip() for v in values], dtype=object
    )


def _to_number(where: str, value: Any, declared: ColumnType | None) -> float:
    if isinstance(value, bool):
        number = float(value)
    else:
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise DataError(f"{where}: the value is not a number") from None
    if declared == "int" and not number.is_integer():
        raise DataError(f"{where}: declared int, but the value is not a whole number")
    return number


def _to_bool(where: str, value: Any) -> float:
    if isinstance(value, bool | int | float):
        if value in (0, 1):
            return float(value)
    elif str(value).strip().lower() in _TRUE:
        return 1.0
    elif str(value).strip().lower() in _FALSE:
        return 0.0
    raise DataError(f"{where}: declared bool, but the value is not true/false, yes/no or 1/0")


def label_column(label: str, values: list[Any], declared: ColumnType | None) -> np.ndarray:
    """Class labels: int64 when every label is an integer, else strings (ONNX supports both)."""
    missing = next((i for i, v in enumerate(values) if is_missing(v)), None)
    if missing is not None:
        raise DataError(f"data row {missing + 1}: the target {label} has no value")
    if declared != "str":
        try:
            numbers = [float(v) for v in values]
            if all(n.is_integer() for n in numbers):
                return np.asarray(numbers, dtype=np.int64)
        except (TypeError, ValueError):
            if declared in ("int", "float"):
                raise DataError(f"the target {label} is declared {declared} but is not") from None
    return np.asarray([str(v).strip() for v in values], dtype=str)


def value_column(label: str, values: list[Any], declared: ColumnType | None) -> np.ndarray:
    """A regression target: numeric, nothing missing."""
    column = numeric_column(f"the target {label}", values, declared)
    missing = np.flatnonzero(np.isnan(column))
    if missing.size:
        raise DataError(f"data row {int(missing[0]) + 1}: the target {label} has no value")
    return column
