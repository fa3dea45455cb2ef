"""Automatic promotion and rollback from measured evidence, decided once per candidate."""

from __future__ import annotations

from services.deployer.serving.evidence import Evidence
from shared.events.common import DeploymentStrategy


def evidence(**strategy: float) -> Evidence:
    return Evidence(
        "m",
        2,
        DeploymentStrategy(kind="canary", **strategy),  # type: ignore[arg-type]
        latency_floor_ms=1.0,
    )


def test_promotes_after_n_clean_requests_and_only_once() -> None:
    ev = evidence(promote_after_requests=50)
    decisions = []
    for _ in range(200):
        decisions.append(ev.add(candidate=False, ok=True, latency_ms=0.3))
        decisions.append(ev.add(candidate=True, ok=True, latency_ms=0.4))
    made = [d for d in decisions if d is not None]
    assert [d.kind for d in made] == ["promote"]
    assert made[0].version == 2
    assert made[0].evidence["candidate_requests"] == 50.0


def test_rolls_back_early_when_the_candidate_errors_more_than_stable() -> None:
    ev = evidence(promote_after_requests=200, max_error_rate_delta=0.05)
    for _ in range(100):
        ev.add(candidate=False, ok=True, latency_ms=0.3)
    decision = None
    count = 0
    while decision is None:
        count += 1
        decision = ev.add(candidate=True, ok=count % 2 == 0, latency_ms=0.3)
    assert decision.kind == "rollback" and "error rate" in decision.reason
    assert count == 20  # the early-breach minimum, far before 200


def test_errors_within_the_allowed_delta_still_promote() -> None:
    ev = evidence(promote_after_requests=100, max_error_rate_delta=0.05)
    for i in range(100):
        ev.add(candidate=False, ok=i % 25 != 0, latency_ms=0.3)  # 4% errors on stable
    decisions = [ev.add(candidate=True, ok=i % 15 != 14, latency_ms=0.3) for i in range(100)]
    assert [d.kind for d in decisions if d] == ["promote"]  # 7% is within 4% + 5%


def test_a_slower_candidate_is_rolled_back_at_n() -> None:
    ev = evidence(promote_after_requests=30, max_latency_ratio=2.0)
    for _ in range(30):
        ev.add(candidate=False, ok=True, latency_ms=2.0)
    decisions = [ev.add(candidate=True, ok=True, latency_ms=5.0) for _ in range(30)]
    assert decisions[-1] is not None and decisions[-1].kind == "rollback"
    assert "latency" in decisions[-1].reason


def test_sub_floor_latency_jitter_is_not_evidence() -> None:
    ev = evidence(promote_after_requests=30, max_latency_ratio=2.0)
    for _ in range(30):
        ev.add(candidate=False, ok=True, latency_ms=0.05)
    decisions = [ev.add(candidate=True, ok=True, latency_ms=0.5) for _ in range(30)]
    assert decisions[-1] is not None and decisions[-1].kind == "promote"
