"""A deployer against the real database and broker, for each test.

Each test's deployer serves only the models of that test (``models`` glob on the unique
suffix) and has its own replica id, so tests sharing the database and the topics stay apart.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from modelbus.embedded import pick_free_port
from services.deployer.bootstrap import definition
from services.deployer.settings import DeployerSettings
from shared.runtime import ServiceProcess
from shared.settings import Settings
from shared.store.artifacts import FileArtifactStore
from tests.integration.deployer.harness import Lifecycle, admin_token
from tests.support.services import running


@pytest.fixture
def lifecycle(kafka_bootstrap: str, settings: Settings, unique: str) -> Lifecycle:
    return Lifecycle(kafka_bootstrap, FileArtifactStore(settings.home / "artifacts"), unique)


@pytest.fixture
def config(unique: str) -> DeployerSettings:
    return DeployerSettings(
        replica_id=f"a-{unique}",
        models=f"*-{unique}",
        reconcile_interval_s=0.1,
        gc_young_threshold=0,  # many services share the test process: leave its GC alone
        grpc_port=pick_free_port(),  # known, so tests can dial it
    )


@pytest.fixture
async def deployer(settings: Settings, config: DeployerSettings) -> AsyncIterator[ServiceProcess]:
    async with running(definition(config), settings) as service:
        yield service


@pytest.fixture
async def client(deployer: ServiceProcess) -> AsyncIterator[httpx.AsyncClient]:
    token = await admin_token(deployer)
    async with httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{deployer.port}",
        timeout=30,
        headers={"Authorization": f"Bearer {token}"},
    ) as http:
        yield http
