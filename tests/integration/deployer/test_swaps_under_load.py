"""Continuous traffic while versions are deployed and one is rolled back: nothing fails, and
every answer comes from a version that was live while the request was in flight.

The issue asks for ~20 s of traffic; this runs ~8 s to keep CI fast (set
``SWAP_TRAFFIC_S`` for a longer run): two replacements and a rollback fit comfortably.
"""

from __future__ import annotations

import asyncio
import os
import time

import httpx
import pytest

from tests.integration.deployer.harness import Answer, Lifecycle, caller, serving, v2_body
from tests.support.onnx_models import logistic_regression_onnx, tagged

pytestmark = pytest.mark.integration

TRAFFIC_S = float(os.environ.get("SWAP_TRAFFIC_S", "8"))
CALLERS = 8


class Timeline:
    """Which versions may answer at each moment, from what the test did and observed."""

    def __init__(self, first: set[str]) -> None:
        self.phases: list[tuple[float, set[str]]] = [(0.0, first)]

    def mark(self, allowed: set[str]) -> None:
        self.phases.append((time.monotonic(), allowed))

    def allowed(self, start: float, end: float) -> set[str]:
        ends = [t for t, _ in self.phases[1:]] + [float("inf")]
        return set().union(
            *(
                allowed
                for (begin, allowed), until in zip(self.phases, ends, strict=True)
                if begin <= end and until >= start
            )
        )


async def test_no_request_fails_while_versions_swap(
    client: httpx.AsyncClient, lifecycle: Lifecycle
) -> None:
    built = logistic_regression_onnx()
    model = lifecycle.name("swap")
    versions = {v: tagged(built.onnx, f"version {v}") for v in (1, 2, 3)}
    await lifecycle.approve(model, 1, versions[1])
    await serving(client, model, 1)

    stop, answers = asyncio.Event(), list[Answer]()
    timeline = Timeline({"1"})
    url = f"/v2/models/{model}/infer"
    # Traffic on its own client, so that the test's own probes never queue behind it.
    load = httpx.AsyncClient(base_url=client.base_url, headers=client.headers, timeout=30)
    traffic = [
        asyncio.create_task(caller(load, url, v2_body(built.X_holdout[i : i + 2]), stop, answers))
        for i in range(CALLERS)
    ]
    started = time.monotonic()
    await asyncio.sleep(TRAFFIC_S * 0.15)
    for previous, new in (("1", "2"), ("2", "3")):
        timeline.mark({previous, new})
        await lifecycle.approve(model, int(new), versions[int(new)])
        await serving(client, model, int(new))
        timeline.mark({new})
        await asyncio.sleep(TRAFFIC_S * 0.2)
    timeline.mark({"2", "3"})
    rolled = await client.post(f"/v1/deployments/{model}/rollback", json={"version": 3})
    assert rolled.status_code == 200 and rolled.json()["stable_version"] == 2
    timeline.mark({"2"})
    await asyncio.sleep(max(0.5, TRAFFIC_S - (time.monotonic() - started)))
    stop.set()
    await asyncio.gather(*traffic)
    await load.aclose()

    assert len(answers) > 200, f"only {len(answers)} requests in {TRAFFIC_S}s"
    failed = [a for a in answers if a.status != 200]
    assert not failed, f"{len(failed)} failed requests, e.g. {failed[:3]}"
    stale = [
        (round(a.sent - started, 3), round(a.received - started, 3), a.version)
        for a in answers
        if a.version not in timeline.allowed(a.sent, a.received)
    ]
    marks = [round(t - started, 3) for t, _ in timeline.phases[1:]]
    assert not stale, f"{len(stale)} answers from versions not live then: {stale[:5]}; {marks}"
    assert {a.version for a in answers} == {"1", "2", "3"}
    assert answers[-1].version == "2"
