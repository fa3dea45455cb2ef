"""The monitoring page: per-feature drift over windows as a heat map, and metric series."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

# PSI bands as commonly read: below 0.1 stable, 0.1 to 0.2 moving, above 0.2 shifted.
PSI_BANDS = ((0.1, "psi-low"), (0.2, "psi-mid"))
PSI_HIGH = "psi-high"
PREDICTION = "prediction"


def band(value: float | None) -> str:
    if value is None:
        return "psi-none"
    for upper, name in PSI_BANDS:
        if value < upper:
            return name
    return PSI_HIGH


@dataclass(frozen=True)
class Cell:
    psi: float | None
    drifted: bool
    band: str


@dataclass(frozen=True)
class HeatRow:
    feature: str
    cells: list[Cell]
    drifted_latest: bool  # drifted in the newest window: the row is highlighted


@dataclass(frozen=True)
class HeatMap:
    windows: list[dict[str, Any]]  # id, end, version, arm, count, drifted
    rows: list[HeatRow]

    @property
    def highlighted(self) -> list[str]:
        return [r.feature for r in self.rows if r.drifted_latest]


def _drifted_features(window: Mapping[str, Any]) -> set[str]:
    return set(window.get("top_features") or [])


def heat_map(windows: Sequence[Mapping[str, Any]], features: list[str]) -> HeatMap:
    """Rows are features (the model's order), columns the data windows, oldest first; a cell
    is that window's PSI for the feature, marked when the monitor judged it drifted."""
    if not features:
        seen = {k.split(".", 1)[1] for w in windows for k in (w.get("metrics") or {})}
        features = sorted(f for f in seen if f != PREDICTION and not f.startswith("psi"))
    columns = [
        {
            "id": w.get("window_id"),
            "end": w.get("end") or w.get("closed_at"),
            "version": w.get("version"),
            "arm": w.get("arm"),
            "count": w.get("count"),
            "drifted": bool(w.get("drifted")),
        }
        for w in windows
    ]
    drifted_by_window = [_drifted_features(w) for w in windows]
    latest = drifted_by_window[-1] if drifted_by_window else set()
    rows = []
    for feature in features:
        cells = []
        for window, drifted in zip(windows, drifted_by_window, strict=True):
            value = (window.get("metrics") or {}).get(f"psi.{feature}")
            psi = float(value) if isinstance(value, int | float) else None
            cells.append(Cell(psi, feature in drifted, band(psi)))
        rows.append(HeatRow(feature, cells, feature in latest))
    return HeatMap(columns, rows)


def window_numbers(window: Mapping[str, Any] | None) -> list[tuple[str, float]]:
    """A clicked window's metrics, grouped by statistic then feature."""
    metrics = (window or {}).get("metrics") or {}
    return sorted(((k, float(v)) for k, v in metrics.items() if isinstance(v, int | float)))


def series_chart(
    title: str,
    windows: Sequence[Mapping[str, Any]],
    metrics: list[str],
    *,
    thresholds: Mapping[str, float] | None = None,
) -> dict[str, Any]:
    """A line chart's data: one line per metric over the windows, dashed threshold lines."""
    labels = [str(w.get("end") or w.get("closed_at") or "")[11:19] for w in windows]
    lines = []
    for metric in metrics:
        values = [(w.get("metrics") or {}).get(metric) for w in windows]
        if any(isinstance(v, int | float) for v in values):
            lines.append({"name": metric, "values": values})
    return {
        "kind": "lines",
        "title": title,
        "labels": labels,
        "lines": lines,
        "thresholds": [{"name": k, "value": v} for k, v in (thresholds or {}).items()],
    }


def performance_thresholds(alerts: Sequence[Mapping[str, Any]]) -> dict[str, float]:
    """The degradation thresholds the monitor has judged against, from its alerts."""
    out: dict[str, float] = {}
    for alert in alerts:
        summary = alert.get("summary") or {}
        if alert.get("kind") == "performance" and isinstance(summary.get("threshold"), float):
            out.setdefault(f"{summary.get('metric')} threshold", summary["threshold"])
    return out
