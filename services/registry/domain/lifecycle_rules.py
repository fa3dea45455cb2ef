"""What lifecycle events mean: each version's status, and which version served when.

Pure rules, no I/O. :func:`project` folds one model's events in event-time order, so the
answer does not depend on the order they arrived in: events of one model travel on
several topics (governance's, the deployer's), and Kafka orders a key only within a topic.
"Serving" means the stable arm, the one that answers requests; canary and shadow arms
are statuses of their versions but do not change which version serves.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

# The doors: events that propose a version rather than report on one.
DOORS = ("training.completed", "model.submitted")

# A version's status after an event about it; None: recorded in its history only.
STATUS_AFTER: dict[str, str | None] = {
    "model.registered": "registered",
    "review.requested": "pending_review",
    "model.approved": "approved",
    "model.rejected": "rejected",
    "model.deployed": None,  # by arm, see status_after
    "model.promoted": "serving",
    "model.rolled_back": "rolled_back",
    "model.suspended": "suspended",
    "model.retired": "retired",
    "deployment.failed": "deployment_failed",
    "drift.detected": None,
    "performance.degraded": None,
    "monitor.alert_resolved": None,
}
ARM_STATUS = {"stable": "serving", "canary": "canary", "shadow": "shadow"}
SERVING = "serving"
SUPERSEDED = "superseded"  # was serving until another version took over


def lifecycle_topics() -> tuple[str, ...]:
    """The topics these rules give a meaning to: the registry consumes these and the doors."""
    return tuple(STATUS_AFTER)


def status_after(topic: str, data: dict[str, Any]) -> str | None:
    if topic == "model.deployed":
        return ARM_STATUS[data["arm"]]
    return STATUS_AFTER[topic]


@dataclass(frozen=True)
class ServingChange:
    version: int | None  # None: no version serves any more


def serving_after(topic: str, data: dict[str, Any], current: int | None) -> ServingChange | None:
    """The new stable version after an event, given the one stable before it (None: no change).

    A rollback of the stable version restores the version it names; a rollback of a
    canary leaves the stable one serving. A suspended or retired version stops serving.
    """
    version: int = data["version"]
    change: ServingChange | None = None
    if topic == "model.promoted" or (topic == "model.deployed" and data["arm"] == "stable"):
        change = ServingChange(version)
    elif topic == "model.rolled_back":
        restored = data.get("restored_version")
        if current == version or restored is not None:
            change = ServingChange(restored)
    elif topic in ("model.suspended", "model.retired") and current == version:
        change = ServingChange(None)
    if change is None or change.version == current:
        return None
    return change


@dataclass(frozen=True)
class Fact:
    """One lifecycle event of a model, as far as status and serving are concerned."""

    topic: str
    time: datetime
    event_id: str
    data: dict[str, Any]


@dataclass(frozen=True)
class Mark:
    """A status (or a serving version) and the event that set it, from its time on."""

    value: Any
    since: datetime
    event_id: str


@dataclass
class Projection:
    statuses: dict[int, Mark] = field(default_factory=dict)  # version -> its status
    serving: list[Mark] = field(default_factory=list)  # stable version (or None) from when


def project(facts: Iterable[Fact]) -> Projection:
    """Fold one model's lifecycle events, given oldest first, into statuses and serving."""
    result, current = Projection(), None
    for fact in facts:
        version: int = fact.data["version"]
        status = status_after(fact.topic, fact.data)
        if status is not None:
            result.statuses[version] = Mark(status, fact.time, fact.event_id)
        change = serving_after(fact.topic, fact.data, current)
        if change is None:
            continue
        result.serving.append(Mark(change.version, fact.time, fact.event_id))
        if current is not None and _is(result.statuses.get(current), SERVING):
            result.statuses[current] = Mark(SUPERSEDED, fact.time, fact.event_id)
        if change.version is not None and change.version != version:
            result.statuses[change.version] = Mark(SERVING, fact.time, fact.event_id)
        current = change.version
    return result


def _is(mark: Mark | None, status: str) -> bool:
    return mark is not None and mark.value == status
