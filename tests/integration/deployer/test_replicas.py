"""Replicas on one database and broker converge; a restarted deployer serves the same."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest

from services.deployer.bootstrap import definition
from services.deployer.settings import DeployerSettings
from shared.events.common import DeploymentStrategy
from shared.runtime import ServiceProcess
from shared.settings import Settings
from tests.integration.deployer.harness import (
    Lifecycle,
    admin_token,
    exactly,
    replica,
    serving,
)
from tests.support.onnx_models import logistic_regression_onnx, tagged
from tests.support.polling import eventually
from tests.support.services import running

pytestmark = pytest.mark.integration


@asynccontextmanager
async def deployer(
    settings: Settings, config: DeployerSettings
) -> AsyncIterator[tuple[ServiceProcess, httpx.AsyncClient]]:
    async with running(definition(config), settings) as service:
        token = await admin_token(service)
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{service.port}",
            timeout=30,
            headers={"Authorization": f"Bearer {token}"},
        ) as client:
            await eventually(lambda: _ready(client), what="deployer ready")
            yield service, client


async def _ready(client: httpx.AsyncClient) -> bool:
    return (await client.get("/v2/health/ready")).status_code == 200


async def serving_here(client: httpx.AsyncClient, model: str) -> dict[str, object] | None:
    response = await client.get(f"/v1/deployments/{model}")
    return response.json()["models"][0]["serving_here"] if response.status_code == 200 else None


async def test_replicas_converge_and_restarts_serve_the_same(
    settings: Settings, config: DeployerSettings, lifecycle: Lifecycle, kafka_bootstrap: str
) -> None:
    built = logistic_regression_onnx()
    model = lifecycle.name("replicated")
    canary = DeploymentStrategy(kind="canary", canary_weight=0.3, promote_after_requests=1_000_000)
    async with deployer(settings, config) as (_, first):
        await lifecycle.approve(model, 1, built.onnx)
        await serving(first, model, 1)
        await lifecycle.approve(model, 2, tagged(built.onnx, "v2"), canary)

        async def first_has_canary() -> bool:
            here = await serving_here(first, model)
            return here is not None and here["candidate"] == 2

        await eventually(first_has_canary, what="the canary on the first replica")

        second_config = replica(config, f"b-{lifecycle.unique}")
        async with deployer(settings, second_config) as (_, second):
            # Rebuilt from the shared tables, before any new event.
            here = await serving_here(second, model)
            assert here is not None
            assert (here["stable"], here["candidate"], here["mode"], here["weight"]) == (
                1,
                2,
                "canary",
                0.3,
            )

            await lifecycle.approve(model, 3, tagged(built.onnx, "v3"))
            await serving(first, model, 3)
            await serving(second, model, 3)
            # A decision taken on one replica reaches the other through the tables.
            rolled = await second.post(f"/v1/deployments/{model}/rollback", json={"version": 3})
            assert rolled.json()["stable_version"] == 1
            await serving(first, model, 1, timeout=5)

            deployed = await exactly(kafka_bootstrap, "model.deployed", model, 3)
            assert sorted(e.data.version for e in deployed) == [1, 2, 3]
            await exactly(kafka_bootstrap, "model.rolled_back", model, 1)

    # The first replica again, same id: it serves what the tables say, no event needed.
    async with deployer(settings, config) as (_, again):
        here = await serving_here(again, model)
        assert here is not None and here["stable"] == 1
        response = await again.post(
            f"/v2/models/{model}/infer",
            json={
                "inputs": [
                    {
                        "name": "X",
                        "datatype": "FP32",
                        "shape": [1, 30],
                        "data": built.X_holdout[0].tolist(),
                    }
                ]
            },
        )
        assert response.status_code == 200 and response.json()["model_version"] == "1"
