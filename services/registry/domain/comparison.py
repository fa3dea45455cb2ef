"""Two versions of one model side by side: their training choices and their metrics."""

from __future__ import annotations

from typing import Any

from shared.events.registry import ModelRegistered


def compare(left: ModelRegistered, right: ModelRegistered) -> dict[str, Any]:
    """Both versions' metrics, with ``b - a`` where both have the metric."""
    metrics = {}
    for metric in sorted(set(left.metrics) | set(right.metrics)):
        x, y = left.metrics.get(metric), right.metrics.get(metric)
        delta = y - x if x is not None and y is not None else None
        metrics[metric] = {"a": x, "b": y, "delta": delta}
    return {
        "model_name": left.model_name,
        "a": {"version": left.version, "algorithm": left.algorithm, "params": left.params},
        "b": {"version": right.version, "algorithm": right.algorithm, "params": right.params},
        "metrics": metrics,
    }
