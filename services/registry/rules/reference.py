"""A scorecard's reference profile, from a table of typical inputs its authors supply.

A decision model has no training data, so nothing tells the monitor what its traffic
looked like; with a reference table it is monitored like any model: input drift against
the table's columns, prediction drift against the decisions the rules take on its rows
(read plainly, :func:`~services.registry.rules.compile.evaluate`). The profile is built by
the one builder (:func:`shared.reference_builder.build_reference_profile`).

The table is hostile input, checked before anything is built from it: CSV in UTF-8 of at
most :data:`MAX_BYTES` and between :data:`MIN_ROWS` and :data:`MAX_ROWS` rows, its header
exactly the document's input fields (in any order), a number field a finite number in
every row, a string field at most :data:`MAX_CELL` characters (empty: missing). Every
refusal names the row and column, never the value it read.
"""

from __future__ import annotations

import csv
import io
import math

import numpy as np

from services.registry.rules.compile import evaluate
from services.registry.rules.scorecard import Scorecard
from shared.errors import InvalidInput, PayloadTooLarge
from shared.events.reference_profile import ReferenceProfile
from shared.reference_builder import build_reference_profile

MAX_BYTES = 16 * 1024 * 1024
MAX_ROWS = 100_000
MIN_ROWS = 50  # fewer rows describe no distribution a drift test could compare with
MAX_CELL = 200


def read_reference(card: Scorecard, raw: bytes) -> list[dict[str, float | str]]:
    """The table's rows as the rules read them, or a 4xx error saying what is wrong."""
    if len(raw) > MAX_BYTES:
        raise PayloadTooLarge(f"the reference table is over {MAX_BYTES} bytes")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidInput("the reference table is not UTF-8 text") from exc
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader, None)
        if header is None:
            raise InvalidInput("the reference table is empty")
        fields = [h.strip() for h in header]
        if len(set(fields)) != len(fields) or set(fields) != set(card.inputs):
            raise InvalidInput(
                "the reference table's header must name every input field of the rules "
                f"document once, and no other column: {', '.join(card.inputs)}"
            )
        rows: list[dict[str, float | str]] = []
        for number, cells in enumerate(reader, start=2):  # line 1 is the header
            if not cells:
                continue
            if len(rows) == MAX_ROWS:
                raise PayloadTooLarge(f"the reference table is over {MAX_ROWS} rows")
            if len(cells) != len(fields):
                raise InvalidInput(f"reference table row {number}: {len(fields)} cells expected")
            rows.append({f: _value(card, f, c, number) for f, c in zip(fields, cells, strict=True)})
    except csv.Error as exc:
        raise InvalidInput(
            f"the reference table is not valid CSV near row {reader.line_num}"
        ) from exc
    if len(rows) < MIN_ROWS:
        raise InvalidInput(
            f"the reference table needs at least {MIN_ROWS} rows, it has {len(rows)}"
        )
    return rows


def _value(card: Scorecard, field: str, cell: str, row: int) -> float | str:
    if card.inputs[field] == "string":
        if len(cell) > MAX_CELL:
            raise InvalidInput(f"reference table row {row}, {field!r}: over {MAX_CELL} characters")
        return cell
    try:
        value = float(cell)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise InvalidInput(f"reference table row {row}, {field!r}: not a finite number")
    # As served: a client sends FP32 and the compiled graph compares in FP32.
    return float(np.float32(value))


def reference_profile(card: Scorecard, raw: bytes) -> ReferenceProfile:
    """The profile of the table: its input columns and the rules' decisions on it."""
    rows = read_reference(card, raw)
    names = list(card.inputs)
    table = np.empty((len(rows), len(names)), dtype=object)
    for j, name in enumerate(names):
        column = [r[name] for r in rows]
        table[:, j] = column if card.inputs[name] == "string" else np.asarray(column, np.float64)
    decisions = [evaluate(card, r)[0] for r in rows]
    return build_reference_profile(table, names, task="classification", predictions=decisions)
