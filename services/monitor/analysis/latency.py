"""A mergeable latency sketch: log-spaced buckets, quantiles within 1% relative error."""

from __future__ import annotations

import numpy as np

from services.monitor.analysis.stats import FloatArray

GROWTH = 1.02  # bucket i covers [MIN_MS * GROWTH**i, MIN_MS * GROWTH**(i+1))
MIN_MS = 1e-3
BUCKETS = int(np.ceil(np.log(1e7 / MIN_MS) / np.log(GROWTH))) + 1  # up to ~3 hours
_LOG_GROWTH = float(np.log(GROWTH))


def bucket_of(latencies_ms: FloatArray) -> FloatArray:
    scaled = np.maximum(np.asarray(latencies_ms, np.float64), MIN_MS) / MIN_MS
    return np.minimum(np.floor(np.log(scaled) / _LOG_GROWTH), BUCKETS - 1)


class LatencySketch:
    def __init__(self) -> None:
        self.counts = np.zeros(BUCKETS, np.int64)

    @property
    def count(self) -> int:
        return int(self.counts.sum())

    def add(self, latencies_ms: FloatArray) -> None:
        finite = latencies_ms[np.isfinite(latencies_ms)]
        if finite.size:
            self.counts += np.bincount(bucket_of(finite).astype(np.int64), minlength=BUCKETS)

    def quantile(self, q: float) -> float | None:
        """The q-quantile (nearest rank), as the geometric middle of its bucket."""
        n = self.count
        if n == 0:
            return None
        rank = max(int(np.ceil(q * n)), 1)
        bucket = int(np.searchsorted(np.cumsum(self.counts), rank, side="left"))
        return float(MIN_MS * GROWTH ** (bucket + 0.5))
