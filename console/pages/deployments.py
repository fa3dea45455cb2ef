"""The deployments page: arms and weights, and how far a canary is toward promotion."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Progress:
    requests: int
    needed: int
    error_rate_delta: float
    max_error_rate_delta: float
    latency_ratio: float
    max_latency_ratio: float

    @property
    def percent(self) -> int:
        return min(100, round(100 * self.requests / self.needed)) if self.needed else 0

    @property
    def error_ok(self) -> bool:
        return self.error_rate_delta <= self.max_error_rate_delta

    @property
    def latency_ok(self) -> bool:
        return self.latency_ratio <= self.max_latency_ratio


def progress(serving_here: Mapping[str, Any] | None) -> Progress | None:
    """Canary evidence against its thresholds, from the deployer's ``serving_here``."""
    evidence = (serving_here or {}).get("evidence")
    limits = (serving_here or {}).get("thresholds")
    if not evidence or not limits:
        return None
    return Progress(
        requests=int(evidence.get("candidate_requests", 0)),
        needed=int(limits.get("promote_after_requests", 0)),
        error_rate_delta=float(evidence.get("candidate_error_rate", 0.0))
        - float(evidence.get("stable_error_rate", 0.0)),
        max_error_rate_delta=float(limits.get("max_error_rate_delta", 0.0)),
        latency_ratio=float(evidence.get("latency_ratio", 1.0)),
        max_latency_ratio=float(limits.get("max_latency_ratio", 0.0)),
    )
