"""A data window being filled: its counts, and how stored prediction rows enter them.

Rows are mappings with the stored prediction's columns (``ok``, ``schema_error``,
``n_cols``, ``features`` as float64 bytes, ``outputs`` as JSON, ``latency_ms``,
``event_time``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import orjson

from services.monitor.analysis.accumulator import WindowAccumulator
from services.monitor.analysis.monitored import Stream, Version
from services.monitor.analysis.reference import CompiledReference
from services.monitor.analysis.tensors import predicted_values, scored_rows
from shared.text_features import MAX_WORDS

_NO_REFERENCE = CompiledReference([], None)  # a version without profile: no feature counts


@dataclass
class OpenWindow:
    id: int
    opened_at: datetime
    count: int
    acc: WindowAccumulator
    start: datetime | None = None
    end: datetime | None = None


WindowCache = dict[Stream, OpenWindow]


def absorb(window: OpenWindow, version: Version, rows: list[Any]) -> None:
    """Add stored prediction rows to a window's counts (vectorised over the batch)."""
    ref = version.reference
    ok = [r for r in rows if r["ok"]]
    good = [
        r
        for r in ok
        if r["schema_error"] is None and (ref is None or r["n_cols"] == len(ref.features))
    ]
    if ref is not None and good:
        width = len(ref.features)
        matrix = np.frombuffer(b"".join(r["features"] for r in good), "<f8").reshape(-1, width)
        if ref.words:
            # Stored before the version was known, a text is a category code, not a count.
            matrix = matrix.copy()
            columns = list(ref.words)
            counts = matrix[:, columns]
            counts[counts > MAX_WORDS] = np.nan
            matrix[:, columns] = counts
        predicted = None
        if ref.prediction is not None or ref.estimator is not None:
            outputs = [orjson.loads(r["outputs"]) for r in good]
            raw = [v for o in outputs for v in predicted_values(o)]
            if ref.prediction is not None:
                predicted = ref.prediction.encode(raw)
            if ref.estimator is not None:
                scores, labels = scored_rows(outputs, len(ref.estimator.classes))
                window.acc.add_scores(scores, labels)
        window.acc.add_rows(matrix, predicted)
    latencies = np.fromiter((r["latency_ms"] for r in rows), np.float64, len(rows))
    window.acc.add_requests(latencies, len(rows) - len(ok), len(ok) - len(good))
    window.count += len(rows)
    times = [r["event_time"] for r in rows]
    window.start = min([*times, *([window.start] if window.start else [])])
    window.end = max([*times, *([window.end] if window.end else [])])


def fresh(window_id: int, opened_at: datetime, version: Version) -> OpenWindow:
    return OpenWindow(
        window_id, opened_at, 0, WindowAccumulator.open(version.reference or _NO_REFERENCE)
    )
