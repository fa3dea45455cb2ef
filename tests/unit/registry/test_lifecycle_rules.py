"""What each lifecycle event does to a version's status and to which version serves."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from services.registry.domain.lifecycle_rules import (
    DOORS,
    Fact,
    ServingChange,
    lifecycle_topics,
    project,
    serving_after,
    status_after,
)
from shared.events.topics import consumed_by


def event(**fields: Any) -> dict[str, Any]:
    return {"model_name": "m", **fields}


def test_a_rule_for_every_topic_the_registry_consumes_besides_the_doors() -> None:
    assert set(lifecycle_topics()) | set(DOORS) == set(consumed_by("registry"))
    assert not set(lifecycle_topics()) & set(DOORS)


@pytest.mark.parametrize(
    ("topic", "fields", "status"),
    [
        ("model.registered", {}, "registered"),
        ("review.requested", {}, "pending_review"),
        ("model.approved", {}, "approved"),
        ("model.rejected", {}, "rejected"),
        ("model.deployed", {"arm": "stable"}, "serving"),
        ("model.deployed", {"arm": "canary"}, "canary"),
        ("model.deployed", {"arm": "shadow"}, "shadow"),
        ("model.promoted", {}, "serving"),
        ("model.rolled_back", {}, "rolled_back"),
        ("model.suspended", {}, "suspended"),
        ("model.retired", {}, "retired"),
        ("deployment.failed", {}, "deployment_failed"),
        ("drift.detected", {}, None),
        ("performance.degraded", {}, None),
        ("monitor.alert_resolved", {}, None),
    ],
)
def test_status_after(topic: str, fields: dict[str, Any], status: str | None) -> None:
    assert status_after(topic, event(version=1, **fields)) == status


@pytest.mark.parametrize(
    ("topic", "fields", "current", "change"),
    [
        ("model.deployed", {"version": 2, "arm": "stable"}, 1, ServingChange(2)),
        ("model.deployed", {"version": 1, "arm": "stable"}, 1, None),  # redeploy: no change
        ("model.deployed", {"version": 2, "arm": "canary"}, 1, None),
        ("model.promoted", {"version": 2}, 1, ServingChange(2)),
        ("model.promoted", {"version": 1}, None, ServingChange(1)),
        ("model.rolled_back", {"version": 2, "restored_version": 1}, 2, ServingChange(1)),
        ("model.rolled_back", {"version": 2, "restored_version": None}, 2, ServingChange(None)),
        ("model.rolled_back", {"version": 3, "restored_version": 2}, 2, None),  # a canary
        ("model.rolled_back", {"version": 3, "restored_version": None}, 2, None),
        ("model.suspended", {"version": 2}, 2, ServingChange(None)),
        ("model.suspended", {"version": 3}, 2, None),
        ("model.retired", {"version": 2}, 2, ServingChange(None)),
        ("model.approved", {"version": 3}, 2, None),
        ("deployment.failed", {"version": 3}, 2, None),
    ],
)
def test_serving_after(
    topic: str, fields: dict[str, Any], current: int | None, change: ServingChange | None
) -> None:
    assert serving_after(topic, event(**fields), current) == change


T0 = datetime(2026, 1, 1, tzinfo=UTC)


def fact(minute: int, topic: str, version: int, **fields: Any) -> Fact:
    return Fact(
        topic, T0 + timedelta(minutes=minute), f"e{minute}", event(version=version, **fields)
    )


def story() -> list[Fact]:
    """v1 serves; v2 goes canary, is promoted, then rolled back to v1; v3 is rejected."""
    return [
        fact(0, "model.registered", 1),
        fact(1, "model.approved", 1),
        fact(2, "model.deployed", 1, arm="stable"),
        fact(3, "model.registered", 2),
        fact(4, "model.deployed", 2, arm="canary"),
        fact(5, "model.promoted", 2, previous_version=1),
        fact(6, "model.rolled_back", 2, restored_version=1),
        fact(7, "model.registered", 3),
        fact(8, "model.rejected", 3),
    ]


def test_project_folds_a_model_history() -> None:
    projection = project(story())
    assert {v: (m.value, m.event_id) for v, m in projection.statuses.items()} == {
        1: ("serving", "e6"),  # superseded at e5, restored by the rollback
        2: ("rolled_back", "e6"),
        3: ("rejected", "e8"),
    }
    assert [(m.value, m.event_id) for m in projection.serving] == [(1, "e2"), (2, "e5"), (1, "e6")]


def test_superseded_until_restored() -> None:
    projection = project(story()[:6])
    assert projection.statuses[1].value == "superseded"
    assert projection.statuses[2].value == "serving"


def test_suspending_the_serving_version_leaves_none_serving() -> None:
    projection = project([*story()[:3], fact(9, "model.suspended", 1)])
    assert projection.statuses[1].value == "suspended"
    assert [m.value for m in projection.serving] == [1, None]
