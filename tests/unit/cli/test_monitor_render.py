"""``modelbus monitor NAME``: estimates beside measured performance, multivariate drift."""

from __future__ import annotations

from typing import Any

from modelbus.commands.monitor import render


def _window(kind: str, metrics: dict[str, float], **extra: Any) -> dict[str, Any]:
    return {
        "version": 1,
        "arm": "stable",
        "kind": kind,
        "start": "2026-01-01T00:00:00",
        "end": "2026-01-01T00:05:00",
        "closed_at": "2026-01-01T00:05:01",
        "count": 1000,
        "metrics": metrics,
        "drifted": extra.get("drifted"),
        "top_features": [],
        "drift": [],
    }


def test_estimates_show_on_data_windows_and_beside_measured_performance() -> None:
    data = _window(
        "data",
        {
            "requests": 1000,
            "rows": 1000,
            "estimated_rows": 1000,
            "estimated_accuracy": 0.835,
            "estimated_accuracy_reference": 0.915,
            "estimated_accuracy_threshold": 0.865,
            "estimated_roc_auc": 0.92,
            "estimated_roc_auc_reference": 0.91,
            "estimated_roc_auc_threshold": 0.86,
            "reconstruction_error": 1.9,
            "reconstruction_error_reference": 0.7,
            "reconstruction_error_threshold": 0.8,
            "multivariate_drifted": 1.0,
        },
        drifted=True,
    )
    measured = _window("performance", {"labelled": 1000, "accuracy": 0.83})
    counts = {"received": 0, "matched": 0, "unmatched": 0, "expired": 0, "duplicates": 0}
    text = render("m", {"windows": [data, measured]}, counts, [])
    assert (
        "estimated before labels on 1000 rows: accuracy 0.835 (reference 0.915,"
        " alert below 0.865) DEGRADED · roc_auc 0.920" in text
    )
    assert "multivariate (PCA reconstruction error) 1.900 · reference 0.700" in text
    assert "drifts above 0.800: DRIFT" in text
    assert "accuracy 0.830 · estimated on the latest data window: accuracy 0.835" in text
