"""Evaluation data (CSV with a header) read into columns, for measuring a model on it.

Every cell stays a string until the model says what type an input takes. An error names
the place (data row, column) and the rule it breaks, never a value read from the file: the
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
        try:  # NumPy parses a clean column at C speed; anything else is looked at cell by cell
            out = np.asarray(values, dtype=np.float64)
        except ValueError:
            out = self._cell_by_cell(name, values)
        if np.issubdtype(dtype, np.floating):
            return out.astype(dtype)
        bad = np.flatnonzero(np.isnan(out) | (out != np.round(out)))
        if bad.size:
            raise refusal(
                f"{self.what}, data row {int(bad[0]) + 1}, column {name!r}: the model takes "
                "whole numbers here and the value is missing or not one"
            )
        return out.astype(dtype)

    def _cell_by_cell(self, name: str, values: list[str]) -> np.ndarray:
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
                    f"{self.what}, data row {i + 1}, column {name!r}: the value is not a number"
                ) from None
        return out

    def text(self, name: str) -> np.ndarray:
        """A text column as an object array of stripped strings, ``""`` where missing."""
        return np.asarray(
            ["" if v.strip().lower() in MISSING else v.strip() for v in self.column(name)],
            dtype=object,
        )

    def attribute(self, name: str) -> np.ndarray:
        """A sensitive attribute: numbers if every value present is one, else its text."""
        try:
            return self.numbers(name)
        except Refusal:
            return self.text(name)

    def labels(self, name: str) -> np.ndarray:
        """Class labels: int64 when every label is a whole number, else strings."""
        values = [v.strip() for v in self.column(name)]
        empty = next((i for i, v in enumerate(values) if v.lower() in MISSING), None)
        if empty is not None:
            raise refusal(f"{self.what}, data row {empty + 1}: {name!r} has no value")
        try:
            numbers = [float(v) for v in values]
        except ValueError:
            return np.asarray(values, dtype=str)
        if all(n.is_integer() for n in numbers):
            return np.asarray(numbers, dtype=np.int64)
        return np.asarray(values, dtype=str)


def read_csv(data: bytes, *, what: str, max_rows: int) -> EvalTable:
    """The CSV's columns; refused when it has no rows, ragged rows or too many rows.
    Rows are counted from 1 after the header, blank lines not counted."""
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
        rows: list[list[str]] = []
        for row in reader:
            if row:
                rows.append(row)
                if len(rows) > max_rows:
                    raise refusal(f"{what} has more than {max_rows} rows, the limit")
    except csv.Error:
        raise refusal(f"{what} is not a readable CSV file") from None
    if not rows:
        raise refusal(f"{what} has no data rows")
    ragged = next((i for i, row in enumerate(rows) if len(row) != len(names)), None)
    if ragged is not None:
        raise refusal(f"{what}, data row {ragged + 1}: not as many fields as the header")
    columns = {
        name: list(column) for name, column in zip(names, zip(*rows, strict=True), strict=True)
    }
    return EvalTable(columns, what)


def refusal(reason: str) -> Refusal:
    return Refusal.of(Check.EVALUATION, reason)
