"""Recent labelled production data as a training-ready CSV artifact (the closed loop).

The CSV has the training feature columns, in training order, then the target column
named as in training; a missing value is an empty field. A request with several rows
carries a list label (one value per row) or, for a single row, a scalar. The newest
``limit`` labelled rows of the version are taken, one per request id.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import orjson

from services.monitor.versions import Version
from shared.events.common import ArtifactRef
from shared.store.artifacts import ArtifactStore
from shared.store.db import Connection


def row_labels(value: Any, rows: int) -> list[Any] | None:
    """The label of each row of a request, or None if the label does not fit the rows."""
    if isinstance(value, list):
        return value if len(value) == rows else None
    return [value] if rows == 1 else None


def _cell(value: float) -> str:
    return "" if math.isnan(value) else repr(float(value))


def render_csv(columns: Sequence[str], target: str, records: Sequence[Any]) -> tuple[bytes, int]:
    """CSV bytes and the number of data rows, from records (features, n_rows, n_cols, value)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([*columns, target])
    written = 0
    for r in records:
        if r["n_cols"] != len(columns):
            continue
        labels = row_labels(orjson.loads(r["value"]), r["n_rows"])
        if labels is None:
            continue
        matrix = np.frombuffer(r["features"], dtype="<f8").reshape(r["n_rows"], r["n_cols"])
        for values, label in zip(matrix, labels, strict=True):
            writer.writerow([*(_cell(v) for v in values), "" if label is None else label])
            written += 1
    return out.getvalue().encode(), written


async def export_labelled(
    conn: Connection, store: ArtifactStore, version: Version, limit: int
) -> ArtifactRef | None:
    """Store the version's recent labelled rows as CSV; None when there are none yet."""
    records = await conn.fetch(
        "SELECT features, n_rows, n_cols, value FROM ("
        " SELECT DISTINCT ON (p.request_id) p.features, p.n_rows, p.n_cols, l.value,"
        " p.labelled_at FROM predictions p JOIN labels l ON l.model_name = p.model_name"
        " AND l.request_id = p.request_id"
        " WHERE p.model_name = $1 AND p.version = $2 AND p.ok AND p.labelled_at IS NOT NULL"
        " AND p.features IS NOT NULL ORDER BY p.request_id, p.labelled_at DESC) recent"
        " ORDER BY labelled_at DESC LIMIT $3",
        version.model_name,
        version.version,
        limit,
    )
    if not records:
        return None
    columns = version.feature_names or [f"f{i}" for i in range(records[0]["n_cols"])]
    data, written = render_csv(columns, version.target_name, records)
    if written == 0:
        return None
    return await store.put(data, media_type="text/csv")
