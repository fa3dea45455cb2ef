"""Evaluation data (CSV with a header) read into columns, for measuring a model on it.

Every cell stays a string until the model says what type an input takes. An error names
the place (line, column) and the rule it breaks, never a value read from the file: the
reason travels in ``model.registration_failed`` and the submitter of a model is not
necessarily allowed to see the data it was measured on.
"""

from __future__ import annotations

import csv
import io

import numpy as np

from services.registry.domain.refusal import Check, Refusal

MISSING = frozenset({"", "na", "nan", "null", "none"})


class EvalTable:
    """Columns by name, in file order; ``rows`` rows each."""

    def __init__(self, columns: dict[str, list[str]], what: str) -> None:
        self.columns = columns
        self.what = what
        self.rows = len(next(iter(columns.values()), []))

    @property
    def names(self) -> list[str]:
        return list(self.columns)

    def column(self, name: str) -> list[str]:
        if name not in self.columns:
            raise refusal(f"{self.what} has no column {name!r} (columns: {self.names[:50]})")
        return self.columns[name]

    def numbers(self, name: str, dtype: type[np.generic] = np.float64) -> np.ndarray:
        """A numeric column: NaN for missing values in floats, refused in integer types."""
        values = self.column(name)
        out = np.empty(len(values), dtype=np.float64)
        for i, cell in enumerate(values):
            text = cell.strip()
            if text.lower() in MISSING:
                out[i] = np.nan
                continue
            try:
                out[i] = float(text)
            except ValueError:
                raise refusal(
                    f"{self.what}, line {i + 2}, column {name!r}: the value is not a number"
                ) from None
        if np.issubdtype(dtype, np.floating):
            return out.astype(dtype)
        bad = np.flatnonzero(np.isnan(out) | (out != np.round(out)))
        if bad.size:
            raise refusal(
                f"{self.what}, line {int(bad[0]) + 2}, column {name!r}: the model takes "
                "whole numbers here and the value is missing or not one"
            )
        return out.astype(dtype)

    def labels(self, name: str) -> np.ndarray:
        """Class labels: int64 when every label is a whole number, else strings."""
        values = [v.strip() for v in self.column(name)]
        empty = next((i for i, v in enumerate(values) if v.lower() in MISSING), None)
        if empty is not None:
            raise refusal(f"{self.what}, line {empty + 2}: {name!r} has no value")
        try:
            numbers = [float(v) for v in values]
        except ValueError:
            return np.asarray(values, dtype=str)
        if all(n.is_integer() for n in numbers):
            return np.asarray(numbers, dtype=np.int64)
        return np.asarray(values, dtype=str)


def read_csv(data: bytes, *, what: str, max_rows: int) -> EvalTable:
    """The CSV's columns; refused when it has no rows, ragged lines or too many rows."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise refusal(f"{what} is not UTF-8 text") from None
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader, None)
        if header is None:
            raise refusal(f"{what} is empty (no header row)")
        names = [h.strip() for h in header]
        if len(set(names)) != len(names) or "" in names:
            raise refusal(f"{what}: every column needs a name of its own")
        columns: dict[str, list[str]] = {name: [] for name in names}
        rows = 0
        for line_no, row in enumerate(reader, start=2):
            if not row:
                continue
            if len(row) != len(names):
                raise refusal(f"{what}, line {line_no}: not as many fields as the header")
            rows += 1
            if rows > max_rows:
                raise refusal(f"{what} has more than {max_rows} rows, the limit")
            for name, value in zip(names, row, strict=True):
                columns[name].append(value)
    except csv.Error:
        raise refusal(f"{what} is not a readable CSV file") from None
    if rows == 0:
        raise refusal(f"{what} has no data rows")
    return EvalTable(columns, what)


def refusal(reason: str) -> Refusal:
    return Refusal.of(Check.EVALUATION, reason)
