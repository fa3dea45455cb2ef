"""Measured evidence on a candidate against the stable version, and the verdict it supports.

Counted on the request path (a few additions per request). Only model failures count as
errors: a request the caller got wrong (a 400) says nothing about the model. The
verdict is reached once per candidate and replica:

- rollback as soon as the candidate's error rate exceeds the stable one's by more than
  ``max_error_rate_delta`` over at least ``min(promote_after_requests, 20)`` requests;
- after ``promote_after_requests`` candidate requests: promote if its error rate and mean
  latency (relative to stable, ``max_latency_ratio``) are within bounds, else roll back.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from shared.events.common import DeploymentStrategy

EARLY_BREACH_MIN_REQUESTS = 20


@dataclass
class ArmStats:
    count: int = 0
    errors: int = 0
    latency_ms_total: float = 0.0

    def add(self, ok: bool, latency_ms: float) -> None:
        self.count += 1
        self.latency_ms_total += latency_ms
        if not ok:
            self.errors += 1

    @property
    def error_rate(self) -> float:
        return self.errors / self.count if self.count else 0.0

    @property
    def mean_latency_ms(self) -> float:
        return self.latency_ms_total / self.count if self.count else 0.0


@dataclass(frozen=True)
class RolloutVerdict:
    """What the evidence says about a candidate: promote it or roll it back, and why."""

    kind: Literal["promote", "rollback"]
    model_name: str
    version: int
    reason: str
    evidence: dict[str, float]


@dataclass
class Evidence:
    model_name: str
    candidate_version: int
    strategy: DeploymentStrategy
    latency_floor_ms: float
    stable: ArmStats = field(default_factory=ArmStats)
    candidate: ArmStats = field(default_factory=ArmStats)
    decided: bool = False

    def add(self, *, candidate: bool, ok: bool, latency_ms: float) -> RolloutVerdict | None:
        """Count one answered request; the verdict when the evidence now supports one."""
        (self.candidate if candidate else self.stable).add(ok, latency_ms)
        if self.decided or not candidate:
            return None
        needed = self.strategy.promote_after_requests
        early = min(needed, EARLY_BREACH_MIN_REQUESTS)
        error_delta = self.candidate.error_rate - self.stable.error_rate
        if self.candidate.count >= early and error_delta > self.strategy.max_error_rate_delta:
            return self._decide(
                "rollback",
                f"error rate {self.candidate.error_rate:.3f} exceeds "
                f"stable {self.stable.error_rate:.3f} by more than "
                f"{self.strategy.max_error_rate_delta}",
            )
        if self.candidate.count < needed:
            return None
        ratio = self.latency_ratio
        if ratio > self.strategy.max_latency_ratio:
            return self._decide(
                "rollback",
                f"mean latency {ratio:.2f}x stable exceeds {self.strategy.max_latency_ratio}x",
            )
        return self._decide(
            "promote", f"{self.candidate.count} requests within error-rate and latency thresholds"
        )

    @property
    def latency_ratio(self) -> float:
        floor = self.latency_floor_ms
        return max(self.candidate.mean_latency_ms, floor) / max(
            self.stable.mean_latency_ms, floor, 1e-9
        )

    def summary(self) -> dict[str, float]:
        return {
            "candidate_requests": float(self.candidate.count),
            "candidate_error_rate": self.candidate.error_rate,
            "candidate_latency_ms": self.candidate.mean_latency_ms,
            "stable_requests": float(self.stable.count),
            "stable_error_rate": self.stable.error_rate,
            "stable_latency_ms": self.stable.mean_latency_ms,
            "latency_ratio": self.latency_ratio,
        }

    def _decide(self, kind: Literal["promote", "rollback"], reason: str) -> RolloutVerdict:
        self.decided = True
        return RolloutVerdict(kind, self.model_name, self.candidate_version, reason, self.summary())
