"""Measured performance beside the estimates of the same traffic."""

from __future__ import annotations

from services.monitor.analysis.beside import estimated_beside_measured


def _w(i: int, kind: str, start: str, end: str, metrics: dict[str, float]) -> dict[str, object]:
    return {"window_id": i, "kind": kind, "version": 1, "arm": "stable", "start": start,
            "end": end, "metrics": metrics}  # fmt: skip


def test_estimates_of_overlapping_data_windows_are_weighted_by_their_rows() -> None:
    data = [
        _w(1, "data", "t1", "t2", {"estimated_accuracy": 0.9, "estimated_rows": 100.0}),
        _w(2, "data", "t3", "t4", {"estimated_accuracy": 0.6, "estimated_rows": 300.0}),
        _w(3, "data", "t6", "t7", {"estimated_accuracy": 0.1, "estimated_rows": 300.0}),
        {**_w(4, "data", "t2", "t3", {"estimated_accuracy": 0.0, "estimated_rows": 9.0}),
         "arm": "canary"},
    ]  # fmt: skip
    measured = [_w(9, "performance", "t2", "t5", {"accuracy": 0.7, "labelled": 400.0})]
    (entry,) = estimated_beside_measured(measured, data)
    assert entry["data_windows"] == [1, 2]
    assert entry["estimated"] == {"accuracy": (0.9 * 100 + 0.6 * 300) / 400}
    assert entry["measured"] == {"accuracy": 0.7} and entry["labelled"] == 400.0
