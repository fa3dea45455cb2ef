"""Labelled evidence on a rollout: is the candidate as good as the stable version on the
same live traffic, once its labels have arrived?

Request evidence (:mod:`services.deployer.serving.evidence`) says a candidate answers as
reliably and as fast as the stable version; it cannot say it answers as *well*. With
``strategy.min_labelled > 0`` a rollout also needs the monitor's performance windows
(``monitor.metrics`` with a ``labelled`` count) of both arms, taken during the rollout:

- each arm's quality is the labelled-weighted mean of its windows' metric, which is exact
  for accuracy and for mean absolute error (both means over predictions);
- with fewer than ``min_labelled`` labelled predictions on either arm: wait;
- the candidate worse than the stable by more than ``max_quality_drop`` (accuracy points;
  for a regressor, that fraction of the stable's error): roll back, whatever the requests
  said;
- otherwise: promote, once the request evidence has passed too.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from shared.events.common import DeploymentStrategy

# The metric a window is compared on, and whether higher is better: accuracy for a
# classifier, mean absolute error for a regressor (the first the window carries).
METRICS = (("accuracy", True), ("mae", False))
MAX_LABELLED = 10_000_000  # one window never scores more (the monitor's windows are far smaller)


@dataclass(frozen=True)
class Measured:
    """One performance window's metric on one arm."""

    metric: str
    value: float
    labelled: int


def measured(metrics: Mapping[str, float]) -> Measured | None:
    """The metric a performance window is compared on, or None for a data window (no
    ``labelled`` count) or one with nothing scored."""
    count = metrics.get("labelled", 0.0)
    if not (0 < count <= MAX_LABELLED):  # also NaN
        return None
    for name, _ in METRICS:
        value = metrics.get(name)
        if value is None or not math.isfinite(value):  # NaN: the window could not score it
            continue
        if value < 0 or (name == "accuracy" and value > 1):
            return None  # not a value the monitor could have measured
        return Measured(name, float(value), int(count))
    return None


@dataclass(frozen=True)
class ArmQuality:
    labelled: int = 0
    value: float | None = None  # labelled-weighted mean of the arm's windows


@dataclass(frozen=True)
class QualityVerdict:
    kind: Literal["wait", "promote", "rollback"]
    reason: str
    evidence: dict[str, float]


def judge(
    strategy: DeploymentStrategy, metric: str, candidate: ArmQuality, stable: ArmQuality
) -> QualityVerdict:
    """What the labelled evidence says about the candidate (see the module's rules)."""
    evidence = {
        "candidate_labelled": float(candidate.labelled),
        "stable_labelled": float(stable.labelled),
    }
    needed = strategy.min_labelled
    if candidate.labelled < max(needed, 1) or stable.labelled < max(needed, 1):
        return QualityVerdict(
            "wait",
            f"waiting for {needed} labelled predictions per arm "
            f"(candidate {candidate.labelled}, stable {stable.labelled})",
            evidence,
        )
    assert candidate.value is not None and stable.value is not None
    evidence |= {f"candidate_{metric}": candidate.value, f"stable_{metric}": stable.value}
    higher_better = dict(METRICS)[metric]
    drop = strategy.max_quality_drop
    if higher_better:
        worse = candidate.value < stable.value - drop
        bound = f"more than {drop} below"
    else:
        worse = candidate.value > stable.value * (1 + drop)
        bound = f"more than {drop:.0%} above"
    said = (
        f"{metric} {candidate.value:.4f} on {candidate.labelled} labelled predictions against "
        f"the stable version's {stable.value:.4f} on {stable.labelled}"
    )
    if worse:
        return QualityVerdict("rollback", f"{said}: {bound} the stable version", evidence)
    return QualityVerdict("promote", f"{said}: within {drop} of the stable version", evidence)
