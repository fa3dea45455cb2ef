"""Which version answers: canary shares, sticky callers, stopped versions, and route swaps."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from services.deployer.serving.route_builder import build_route, needed_versions
from services.deployer.serving.table import ServedModel, Stopped, VersionRetired, VersionStopped
from services.deployer.store.desired_state import DesiredState, RouteRecord, VersionRecord
from shared.errors import NotFound
from shared.events.common import ArtifactRef, DeploymentStrategy
from tests.unit.deployer.conftest import MakeServed


async def test_canary_share_and_sticky_callers(make_served: MakeServed) -> None:
    model = ServedModel("m", 1, make_served(1), make_served(2), "canary", 0.2, "x-user")
    arms = [model.route(None)[1] for _ in range(5000)]
    assert abs(arms.count("canary") / len(arms) - 0.2) < 0.03
    for caller in (f"user-{i}" for i in range(50)):
        assert len({model.route(caller)[1] for _ in range(20)}) == 1
    callers = [model.route(f"user-{i}")[1] for i in range(2000)]
    assert abs(callers.count("canary") / len(callers) - 0.2) < 0.05


async def test_shadow_answers_from_stable(make_served: MakeServed) -> None:
    stable, candidate = make_served(1), make_served(2)
    model = ServedModel("m", 1, stable, candidate, "shadow")
    assert all(model.route(None) == (stable, "stable") for _ in range(100))
    assert model.shadow is candidate
    assert model.version(2) is candidate


async def test_a_stopped_stable_version_is_a_clear_503(make_served: MakeServed) -> None:
    candidate = make_served(2)
    model = ServedModel(
        "m", 1, Stopped(1, "suspended", "bias found (by alice)"), candidate, "canary", 0.0
    )
    with pytest.raises(VersionStopped, match="suspended and does not serve: bias found"):
        model.route(None)
    with pytest.raises(VersionStopped):
        model.version(1)
    assert model.version(2) is candidate  # others are unaffected
    with pytest.raises(NotFound):
        model.version(7)


async def test_a_retired_version_is_a_404_that_says_so(make_served: MakeServed) -> None:
    stable, candidate = make_served(1), make_served(3)
    model = ServedModel(
        "m",
        1,
        Stopped(1, "retired", "end of life (by ann)"),
        candidate,
        "canary",
        0.0,
        withdrawn={2: Stopped(2, "retired", "replaced (by bob)")},
    )
    with pytest.raises(VersionRetired, match="retired and does not serve: end of life") as exc:
        model.route(None)
    assert exc.value.status_code == 404
    with pytest.raises(VersionRetired, match="version 2 of model 'm' is retired"):
        model.version(2)
    assert model.version(3) is candidate
    serving = ServedModel("m", 1, stable, withdrawn={2: Stopped(2, "suspended", "bias")})
    with pytest.raises(VersionStopped):
        serving.version(2)
    assert serving.route(None) == (stable, "stable")


def record(version: int, status: str = "active", seq: int = 1) -> VersionRecord:
    return VersionRecord(
        "m",
        version,
        f"approval-{version}",
        datetime.now(UTC),
        seq,
        ArtifactRef(uri="file:///x", sha256="0" * 64, size=1),
        DeploymentStrategy(kind="canary", canary_weight=0.3),
        (),
        status,
        None,
    )


def route(
    stable: int | None, candidate: int | None = None, previous: int | None = None, revision: int = 1
) -> RouteRecord:
    return RouteRecord(
        "m",
        stable,
        previous,
        candidate,
        "canary" if candidate else None,
        0.3 if candidate else 0.0,
        None,
        1,
        revision,
    )


def state(r: RouteRecord, *records: VersionRecord) -> DesiredState:
    return DesiredState({"m": r}, {("m", v.version): v for v in records})


async def test_an_unloaded_new_version_does_not_replace_what_serves(
    make_served: MakeServed,
) -> None:
    v1, v2 = make_served(1), make_served(2)
    desired = state(route(2, previous=1), record(1, "superseded"), record(2))
    current = ServedModel("m", 1, v1)
    assert needed_versions(desired) == {("m", 1), ("m", 2)}
    kept = build_route(desired.routes["m"], desired, {("m", 1): v1}, current, latency_floor_ms=1)
    assert kept is current
    swapped = build_route(
        desired.routes["m"], desired, {("m", 1): v1, ("m", 2): v2}, current, latency_floor_ms=1
    )
    assert swapped is not None and swapped.stable is v2


async def test_a_candidate_serves_once_loaded_and_keeps_its_evidence(
    make_served: MakeServed,
) -> None:
    v1, v2 = make_served(1), make_served(2)
    desired = state(route(1, candidate=2), record(1), record(2))
    without = build_route(desired.routes["m"], desired, {("m", 1): v1}, None, latency_floor_ms=1)
    assert without is not None and without.candidate is None and without.mode is None
    loaded = {("m", 1): v1, ("m", 2): v2}
    first = build_route(desired.routes["m"], desired, loaded, without, latency_floor_ms=1)
    assert first is not None and first.candidate is v2 and first.weight == 0.3
    assert first.evidence is not None
    first.evidence.add(candidate=True, ok=True, latency_ms=1.0)
    again = build_route(
        route(1, candidate=2, revision=2), desired, loaded, first, latency_floor_ms=1
    )
    assert again is first  # same arms: same object, evidence kept


async def test_a_suspended_stable_stops_at_once_even_before_anything_loads(
    make_served: MakeServed,
) -> None:
    desired = state(route(1), record(1, "suspended"))
    current = ServedModel("m", 1, make_served(1))
    served = build_route(desired.routes["m"], desired, {}, current, latency_floor_ms=1)
    assert served is not None and isinstance(served.stable, Stopped)
    assert needed_versions(desired) == set()


def test_a_version_named_by_the_route_stays_loaded_whatever_its_slot() -> None:
    # Mid-rollback view: the route still names 3 as stable and 2 as previous, while 2 is
    # already active again and 3 rolled back. Unloading 2 here would stall the rollback.
    desired = state(route(3, previous=2), record(3, "rolled_back"), record(2, "active"))
    assert needed_versions(desired) == {("m", 2)}


async def test_a_retired_candidate_leaves_and_says_why(make_served: MakeServed) -> None:
    v1, v2 = make_served(1), make_served(2)
    loaded = {("m", 1): v1, ("m", 2): v2}
    before = state(route(1, candidate=2), record(1), record(2))
    current = build_route(before.routes["m"], before, loaded, None, latency_floor_ms=1)
    assert current is not None and current.candidate is v2
    after = state(route(1, revision=2), record(1), record(2, "retired"))
    served = build_route(after.routes["m"], after, loaded, current, latency_floor_ms=1)
    assert served is not None and served is not current
    assert served.candidate is None and served.stable is v1
    assert needed_versions(after) == {("m", 1)}  # 2 is unloaded once its requests finished
    with pytest.raises(VersionRetired):
        served.version(2)
    again = build_route(after.routes["m"], after, loaded, served, latency_floor_ms=1)
    assert again is served
