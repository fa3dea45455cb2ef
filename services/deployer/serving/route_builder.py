"""From a desired route and the versions loaded here to the :class:`ServedModel` to swap in.

The rule that keeps traffic flowing: a version the route names but this replica has not
loaded yet does not replace what serves now. The stable arm keeps its current version until
the new one is loaded; a new candidate gets traffic only once loaded. A stopped (suspended
or retired) stable version answers at once with why: 503 while suspended, 404 once retired.
"""

from __future__ import annotations

from services.deployer.serving.evidence import Evidence
from services.deployer.serving.table import ServedModel, ServedVersion, Stopped
from services.deployer.store.desired_state import STOPPED, DesiredState, RouteRecord

Key = tuple[str, int]


def needed_versions(state: DesiredState) -> set[Key]:
    """Versions to keep loaded: serving, about to serve (pending), or restorable at once."""
    needed = {(p.model_name, p.version) for p in state.pending()}
    for route in state.routes.values():
        for version in route.versions:
            record = state.versions.get((route.model_name, version))
            if record is not None and record.status in ("active", "superseded"):
                needed.add((route.model_name, version))
    return needed


def build_route(
    route: RouteRecord,
    state: DesiredState,
    loaded: dict[Key, ServedVersion],
    current: ServedModel | None,
    *,
    latency_floor_ms: float,
) -> ServedModel | None:
    """The model to serve now; ``current`` itself when nothing changed (keeping evidence)."""
    name = route.model_name
    stable = _stable(route, state, loaded, current)
    candidate, record = None, None
    if route.candidate_version is not None:
        record = state.versions.get((name, route.candidate_version))
        if record is not None and record.status == "active":
            candidate = loaded.get((name, route.candidate_version))
    if stable is None and candidate is None:
        return current
    mode = route.candidate_mode if candidate is not None else None
    weight = route.canary_weight if mode == "canary" else 0.0
    sticky = route.sticky_header if mode == "canary" else None
    withdrawn = _withdrawn(name, state)
    if current is not None and (
        current.stable,
        current.candidate,
        current.mode,
        current.weight,
        current.sticky_header,
        current.withdrawn,
    ) == (stable, candidate, mode, weight, sticky, withdrawn):
        return current
    evidence = None
    if candidate is not None and record is not None:
        if current is not None and current.candidate is candidate:
            evidence = current.evidence
        else:
            evidence = Evidence(name, candidate.version, record.strategy, latency_floor_ms)
    return ServedModel(
        name, route.revision, stable, candidate, mode, weight, sticky, evidence, withdrawn
    )


def _withdrawn(name: str, state: DesiredState) -> dict[int, Stopped]:
    """The model's suspended and retired versions, each with its reason."""
    return {
        record.version: Stopped(record.version, record.status, record.reason or "no reason given")
        for (model, _), record in state.versions.items()
        if model == name and record.status in STOPPED
    }


def _stable(
    route: RouteRecord,
    state: DesiredState,
    loaded: dict[Key, ServedVersion],
    current: ServedModel | None,
) -> ServedVersion | Stopped | None:
    number = route.stable_version
    record = state.versions.get((route.model_name, number)) if number is not None else None
    if record is not None and record.status in STOPPED:
        return Stopped(record.version, record.status, record.reason or "no reason given")
    if number is not None and (route.model_name, number) in loaded:
        return loaded[(route.model_name, number)]
    return current.stable if current is not None else None
