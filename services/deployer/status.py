"""What serves where: the desired routes with their weights, and what this replica serves."""

from __future__ import annotations

from typing import Any

import asyncpg

from services.deployer import labelled_rollout
from services.deployer.serving.table import ServedModel, ServedVersion, ServingTable, Stopped
from services.deployer.store.desired_state import DesiredState, RouteRecord, load_desired_state


def _weights(route: RouteRecord) -> tuple[float, float]:
    if route.candidate_version is not None and route.candidate_mode == "canary":
        return 1.0 - route.canary_weight, route.canary_weight
    return 1.0, 0.0


def _version(state: DesiredState, model: str, version: int | None) -> dict[str, Any] | None:
    record = state.versions.get((model, version)) if version is not None else None
    if record is None:
        return None
    return {"version": record.version, "status": record.status, "reason": record.reason}


def _here(served: ServedModel | None) -> dict[str, Any] | None:
    if served is None:
        return None
    stable = served.stable
    return {
        "stable": stable.version if isinstance(stable, ServedVersion | Stopped) else None,
        "stable_stopped": isinstance(stable, Stopped),
        "candidate": served.candidate.version if served.candidate is not None else None,
        "mode": served.mode,
        "weight": served.weight,
        "evidence": served.evidence.summary() if served.evidence is not None else None,
        # What the evidence is judged against, so a reader sees how far promotion is.
        "thresholds": _thresholds(served),
    }


def _thresholds(served: ServedModel) -> dict[str, float] | None:
    if served.evidence is None:
        return None
    strategy = served.evidence.strategy
    return {
        "promote_after_requests": float(strategy.promote_after_requests),
        "max_error_rate_delta": strategy.max_error_rate_delta,
        "max_latency_ratio": strategy.max_latency_ratio,
    }


def describe(route: RouteRecord, state: DesiredState, table: ServingTable) -> dict[str, Any]:
    name = route.model_name
    stable_weight, candidate_weight = _weights(route)
    stable = _version(state, name, route.stable_version)
    if stable is not None:
        stable["weight"] = stable_weight
    candidate = _version(state, name, route.candidate_version)
    if candidate is not None:
        candidate.update(
            mode=route.candidate_mode, weight=candidate_weight, sticky_header=route.sticky_header
        )
    return {
        "model_name": name,
        "revision": route.revision,
        "stable": stable,
        "candidate": candidate,
        "previous_version": route.previous_version,
        "pending": [p.version for p in state.pending() if p.model_name == name],
        "serving_here": _here(table.models.get(name)),
    }


async def deployment_status(
    pool: asyncpg.Pool, table: ServingTable, *, replica: str, model: str | None = None
) -> dict[str, Any]:
    state = await load_desired_state(pool)
    routes = [r for n, r in sorted(state.routes.items()) if model is None or n == model]
    models = [describe(r, state, table) for r in routes]
    async with pool.acquire() as conn:
        for route, described in zip(routes, models, strict=True):
            version = route.candidate_version
            candidate = state.versions.get((route.model_name, version)) if version else None
            if candidate is None or described["candidate"] is None:
                continue
            labelled = await labelled_rollout.progress(conn, route, candidate)
            if labelled is not None:  # the rollout asks for labelled evidence
                described["candidate"]["labelled_evidence"] = labelled
    return {"replica": replica, "ready": table.ready, "models": models}
