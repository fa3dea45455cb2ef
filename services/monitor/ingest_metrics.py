"""Lag and freshness per model, as Prometheus sees them on the replica folding the model.

``modelbus_monitor_lag_records{model}``: records of the model's partition not folded yet
(as of the last fetch); ``modelbus_monitor_window_freshness_seconds{model}``: age of the
newest prediction folded into the model's windows. Only registered models are reported
(a model name read from the bus is not a label until the registry vouched for it), and
only by the replica that owns the model's partition: after a rebalance the new owner
reports it and the old one stops.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime

from prometheus_client import REGISTRY
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from shared.bus.stream import owns, partition_lag

TOPIC = "predictions.logged"
_MAX_MODELS = 10_000
_registered: set[str] = set()
_progress: dict[str, tuple[int, float | None]] = {}  # model -> (partition, newest timestamp)


def registered(model: str) -> None:
    if len(_registered) < _MAX_MODELS:
        _registered.add(model)


def folded(model: str, partition: int, newest: datetime | None) -> None:
    if model not in _registered:
        return
    _, before = _progress.get(model, (partition, None))
    stamp = newest.timestamp() if newest is not None else None
    if before is not None and (stamp is None or stamp < before):
        stamp = before
    _progress[model] = (partition, stamp)


class _IngestCollector(Collector):
    def collect(self) -> Iterator[GaugeMetricFamily]:
        lag = GaugeMetricFamily(
            "modelbus_monitor_lag_records",
            "Predictions of the model's partition not folded into windows yet (last fetch)",
            labels=["model"],
        )
        fresh = GaugeMetricFamily(
            "modelbus_monitor_window_freshness_seconds",
            "Age of the newest prediction folded into the model's windows",
            labels=["model"],
        )
        now = time.time()
        for model, (partition, newest) in list(_progress.items()):
            if not owns(TOPIC, partition):
                continue
            lag.add_metric([model], float(partition_lag(TOPIC, partition)))
            if newest is not None:
                fresh.add_metric([model], max(0.0, now - newest))
        yield lag
        yield fresh


REGISTRY.register(_IngestCollector())
