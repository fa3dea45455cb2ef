"""Estimated beside measured: each performance window with the estimates of its traffic.

A performance window scores labelled predictions whose event times span ``[start, end]``;
the data windows of the same version and arm that overlap that span estimated the same
traffic before its labels arrived. Their estimates, weighted by the rows each estimated,
stand beside the measured values. Windows are the API's dictionaries (ISO times).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

ESTIMATED = ("accuracy", "roc_auc")


def _overlaps(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    if not (a.get("start") and a.get("end") and b.get("start") and b.get("end")):
        return False
    return bool(a["start"] <= b["end"] and b["start"] <= a["end"])


def estimated_beside_measured(
    measured: Sequence[Mapping[str, Any]], data: Sequence[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """One entry per performance window, oldest first, with the overlapping estimates."""
    out = []
    for p in measured:
        same = [
            d
            for d in data
            if d["version"] == p["version"] and d["arm"] == p["arm"] and _overlaps(p, d)
        ]
        estimated: dict[str, float] = {}
        for metric in ESTIMATED:
            weighted = [
                (d["metrics"][f"estimated_{metric}"], d["metrics"].get("estimated_rows", 0.0))
                for d in same
                if f"estimated_{metric}" in d["metrics"]
            ]
            rows = sum(n for _, n in weighted)
            if rows > 0:
                estimated[metric] = sum(v * n for v, n in weighted) / rows
        out.append(
            {
                "window_id": p["window_id"],
                "version": p["version"],
                "arm": p["arm"],
                "start": p["start"],
                "end": p["end"],
                "labelled": p["metrics"].get("labelled"),
                "measured": {m: p["metrics"][m] for m in ESTIMATED if m in p["metrics"]},
                "estimated": estimated,
                "data_windows": [d["window_id"] for d in same],
            }
        )
    return out
