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


MEASURED = ["accuracy", "f1", "roc_auc", "r2"]
ESTIMATED = ["estimated_accuracy", "estimated_roc_auc"]


def _end(window: Mapping[str, Any]) -> str:
    return str(window.get("end") or window.get("closed_at") or "")


def _latest_bound(windows: Sequence[Mapping[str, Any]], key: str) -> float | None:
    for w in reversed(windows):
        value = (w.get("metrics") or {}).get(key)
        if isinstance(value, int | float):
            return float(value)
    return None


def performance_chart(
    measured: Sequence[Mapping[str, Any]],
    data: Sequence[Mapping[str, Any]],
    alerts: Sequence[Mapping[str, Any]],
) -> dict[str, Any]:
    """Measured performance (performance windows, on labels) and performance estimated
    before labels (data windows, from the model's calibrated confidence) on one time axis,
    so an estimate stands beside the measurement of the same traffic once labels join."""
    estimated = [w for w in data if "estimated_accuracy" in (w.get("metrics") or {})]
    merged = sorted([*measured, *estimated], key=_end)
    thresholds = performance_thresholds(alerts)
    for metric in ESTIMATED:
        bound = _latest_bound(estimated, f"{metric}_threshold")
        if bound is not None:
            thresholds[f"{metric} alert threshold"] = bound
    return series_chart(
        "Performance: measured on labels, estimated before them",
        merged,
        [*MEASURED, *ESTIMATED],
        thresholds=thresholds,
    )


def multivariate_chart(data: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The PCA reconstruction error per window, with the reference's and the drift bound."""
    bound = _latest_bound(data, "reconstruction_error_threshold")
    reference = _latest_bound(data, "reconstruction_error_reference")
    thresholds = {"drift above": bound} if bound is not None else {}
    if reference is not None:
        thresholds["reference"] = reference
    return series_chart(
        "Multivariate drift (PCA reconstruction error)",
        data,
        ["reconstruction_error"],
        thresholds=thresholds,
    )
