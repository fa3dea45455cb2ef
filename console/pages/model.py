"""The model page: timeline, lineage, champion against challenger, importance, fairness."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

# Audit actions that make a model's timeline, in the words a reader expects.
TIMELINE_WORDS = {
    "training.requested": "training asked for",
    "training.completed": "trained",
    "training.failed": "training failed",
    "model.registered": "registered",
    "model.registration_failed": "registration refused",
    "review.requested": "sent to review",
    "model.approved": "approved",
    "model.rejected": "rejected",
    "model.deployed": "deployed",
    "model.promoted": "promoted",
    "model.rolled_back": "rolled back",
    "model.suspended": "suspended",
    "model.retired": "retired",
    "deployment.failed": "deployment failed",
    "drift.detected": "drift detected",
    "performance.degraded": "performance degraded",
    "monitor.alert_resolved": "alert resolved",
}


@dataclass(frozen=True)
class Moment:
    time: str
    version: int | None
    what: str
    action: str
    actor: str
    detail: str


def _detail(record: Mapping[str, Any]) -> str:
    summary = record.get("summary") or {}
    parts = []
    for key in ("reason", "arm", "weight", "previous_version", "restored_version", "comment"):
        if summary.get(key) not in (None, ""):
            parts.append(f"{key.replace('_', ' ')}: {summary[key]}")
    failed = summary.get("failed_checks")
    if failed:
        parts.append("failed checks: " + ", ".join(map(str, failed)))
    features = summary.get("top_features")
    if features:
        parts.append("features: " + ", ".join(map(str, features[:6])))
    return "; ".join(parts)


def timeline(records: Sequence[Mapping[str, Any]]) -> list[Moment]:
    return [
        Moment(
            time=str(r.get("time", "")),
            version=r.get("version"),
            what=TIMELINE_WORDS.get(str(r.get("action")), str(r.get("action"))),
            action=str(r.get("action")),
            actor=str(r.get("actor", "")),
            detail=_detail(r),
        )
        for r in records
    ]


@dataclass(frozen=True)
class Lineage:
    version: int
    parent_version: int | None
    dataset_sha256: str | None
    training_job_id: str | None
    source: str
    algorithm: str | None
    why: str  # why it was trained: manual, drift, performance...


def lineage(
    versions: Sequence[Mapping[str, Any]], records: Sequence[Mapping[str, Any]]
) -> list[Lineage]:
    reasons = {
        (r.get("summary") or {}).get("job_id"): (r.get("summary") or {}).get("reason")
        for r in records
        if r.get("action") == "training.completed"
    }
    out = []
    for v in versions:
        job = v.get("training_job_id")
        why = reasons.get(job) if job else None
        if not why:
            why = "submitted from outside" if v.get("source") != "trainer" else "training"
        out.append(
            Lineage(
                version=int(v["version"]),
                parent_version=v.get("parent_version"),
                dataset_sha256=v.get("dataset_sha256"),
                training_job_id=job,
                source=str(v.get("source", "")),
                algorithm=v.get("algorithm"),
                why=str(why).replace("_", " "),
            )
        )
    return out


@dataclass(frozen=True)
class MetricRow:
    name: str
    champion: float | None
    challenger: float | None

    @property
    def delta(self) -> float | None:
        if self.champion is None or self.challenger is None:
            return None
        return self.challenger - self.champion


def champion_and_challenger(
    versions: Sequence[Mapping[str, Any]], serving: Sequence[Mapping[str, Any]] | None
) -> tuple[Mapping[str, Any] | None, Mapping[str, Any] | None]:
    """The champion is the stable serving version (else the latest approved); the
    challenger the canary, else the newest version that is not the champion."""
    by_number = {int(v["version"]): v for v in versions}
    stable = [int(s["version"]) for s in serving or [] if s.get("arm") == "stable"]
    candidates = [int(s["version"]) for s in serving or [] if s.get("arm") != "stable"]
    champion = by_number.get(stable[0]) if stable else None
    if champion is None:
        approved = [v for v in versions if v.get("status") in ("approved", "deployed", "serving")]
        champion = approved[-1] if approved else None
    challenger = by_number.get(candidates[0]) if candidates else None
    if challenger is None:
        others = [v for v in versions if champion is None or v["version"] != champion["version"]]
        challenger = others[-1] if others else None
    return champion, challenger


def metric_rows(
    champion: Mapping[str, Any] | None, challenger: Mapping[str, Any] | None
) -> list[MetricRow]:
    a = dict((champion or {}).get("metrics") or {})
    b = dict((challenger or {}).get("metrics") or {})
    return [MetricRow(n, a.get(n), b.get(n)) for n in sorted(set(a) | set(b))]


@dataclass(frozen=True)
class FairnessRow:
    name: str
    gap: float
    threshold: float | None
    passed: bool | None


def fairness(
    version: Mapping[str, Any] | None, checks: Sequence[Mapping[str, Any]]
) -> list[FairnessRow]:
    """Each fairness gap of ``version`` against the threshold governance checked it with."""
    gaps = dict((version or {}).get("fairness") or {})
    by_metric: dict[str, Mapping[str, Any] | None] = {}
    for check in checks:
        for metric in gaps:
            if metric in str(check.get("name", "")):
                by_metric[metric] = check
    rows = []
    for metric, gap in sorted(gaps.items()):
        found = by_metric.get(metric)
        threshold = found.get("threshold") if found else None
        rows.append(
            FairnessRow(
                metric.replace("_", " "),
                float(gap),
                float(threshold) if isinstance(threshold, int | float) else None,
                found.get("passed") if found else None,
            )
        )
    return rows


def importance_chart(version: Mapping[str, Any] | None, top: int = 15) -> dict[str, Any]:
    """The data of the feature-importance bar chart: the ``top`` features, largest first."""
    ranked = sorted(
        ((version or {}).get("feature_importance") or {}).items(), key=lambda kv: -kv[1]
    )[:top]
    return {
        "kind": "bars",
        "title": f"Feature importance, v{(version or {}).get('version')}",
        "labels": [name for name, _ in ranked],
        "values": [round(float(value), 5) for _, value in ranked],
    }
