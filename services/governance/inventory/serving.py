"""Which versions serve, folded from the deployer's events (and governance's kill switch).

One pure transition function serves both the live inventory (applied as each event
arrives) and "what was serving at time T" (applied to the audit trail up to T), so the two
can never disagree. State: ``{version: {"arm": ..., "weight": ...}}`` with string keys, as
stored in JSON.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

Serving = dict[str, dict[str, Any]]

SERVING_ACTIONS = frozenset(
    {"model.deployed", "model.promoted", "model.rolled_back", "model.suspended", "model.retired"}
)
APPROVAL_ACTIONS = frozenset({"model.approved", "model.suspended", "model.retired"})


def next_serving(
    state: Mapping[str, dict[str, Any]],
    action: str,
    version: int | None,
    summary: Mapping[str, Any],
) -> Serving:
    serving = {v: dict(s) for v, s in state.items()}
    if version is None:
        return serving
    key = str(version)
    if action == "model.deployed":
        if summary.get("arm") == "stable":  # a new stable version replaces the old one
            serving = {v: s for v, s in serving.items() if s["arm"] != "stable"}
        serving[key] = {"arm": summary.get("arm"), "weight": summary.get("weight")}
    elif action == "model.promoted":
        previous = summary.get("previous_version")
        serving = {v: s for v, s in serving.items() if s["arm"] != "stable" and v != str(previous)}
        serving[key] = {"arm": "stable", "weight": 1.0}
    elif action == "model.rolled_back":
        serving.pop(key, None)
        restored = summary.get("restored_version")
        if restored is not None:
            serving[str(restored)] = {"arm": "stable", "weight": 1.0}
    elif action in ("model.suspended", "model.retired"):
        serving.pop(key, None)
    return serving


def serving_after(records: Iterable[Mapping[str, Any]]) -> Serving:
    """Fold audit records (``action``, ``version``, ``summary``) in chain order."""
    state: Serving = {}
    for r in records:
        if r["action"] in SERVING_ACTIONS:
            state = next_serving(state, r["action"], r["version"], r["summary"])
    return state


def approved_after(records: Iterable[Mapping[str, Any]]) -> list[int]:
    """Versions approved and not since suspended or retired, after ``records`` in order."""
    approved: set[int] = set()
    for r in records:
        if r["version"] is None:
            continue
        if r["action"] == "model.approved":
            approved.add(r["version"])
        elif r["action"] in ("model.suspended", "model.retired"):
            approved.discard(r["version"])
    return sorted(approved)


def serving_versions(state: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [{"version": int(v), **s} for v, s in sorted(state.items(), key=lambda i: int(i[0]))]
