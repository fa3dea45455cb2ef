"""One registry for all of this package's tests (starting one per test costs a group join).

Tests isolate by model name (the ``unique`` fixture) and run in the package's event loop:
mark a module with ``pytestmark = [pytest.mark.integration, LOOP]``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from services.registry.bootstrap import definition
from services.registry.settings import RegistrySettings
from shared.runtime import ServiceProcess
from shared.settings import Settings
from shared.store.artifacts import FileArtifactStore
from tests.support.bus import kafka_options
from tests.support.polling import eventually
from tests.support.services import http, running

LOOP = pytest.mark.asyncio(loop_scope="package")
# Low enough that a 300-tree ensemble (~160 KB) is refused, high enough for the others.
MAX_ARTIFACT_BYTES = 64 * 1024


@dataclass
class Registry:
    service: ServiceProcess
    bootstrap: str
    store: FileArtifactStore
    scientist: str  # bearer tokens
    viewer: str

    def client(self, token: str | None = None, timeout: float = 30) -> httpx.AsyncClient:
        return http(self.service, token if token is not None else self.viewer, timeout)

    def stored(self, digest: str) -> bool:
        return (self.store.root / "sha256" / digest[:2] / digest).exists()

    async def caught_up(self, topic: str) -> None:
        """Wait until the registry has committed past everything on ``topic`` so far."""
        reader = AIOKafkaConsumer(**kafka_options(self.bootstrap))
        admin = AIOKafkaAdminClient(**kafka_options(self.bootstrap))
        await reader.start()
        await admin.start()
        try:
            await reader.topics()  # loads the metadata partitions_for_topic reads
            numbers = reader.partitions_for_topic(topic) or set()
            ends = await reader.end_offsets([TopicPartition(topic, p) for p in numbers])

            async def done() -> bool:
                committed = await admin.list_consumer_group_offsets("registry")
                return all(
                    tp in committed and committed[tp].offset >= end for tp, end in ends.items()
                )

            await eventually(done, timeout=30, what=f"registry caught up on {topic}")
        finally:
            await admin.close()
            await reader.stop()


@pytest_asyncio.fixture(scope="package", loop_scope="package")
async def registry(
    database_url: str, kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Registry]:
    home = tmp_path_factory.mktemp("registry-home")
    settings = Settings(
        database_url=database_url,
        kafka_bootstrap=kafka_bootstrap,
        home=home,
        http_port=0,
        # The tests' own folders (each test's tmp_path is under the base): the files they
        # submit; anything else a test names is refused.
        artifact_source_dirs=[tmp_path_factory.getbasetemp()],
    )
    limits = RegistrySettings(max_artifact_bytes=MAX_ARTIFACT_BYTES)
    async with running(definition(limits), settings) as service:
        assert service.infra is not None
        auth = service.infra.auth
        yield Registry(
            service=service,
            bootstrap=kafka_bootstrap,
            store=FileArtifactStore(Path(home) / "artifacts"),
            scientist=await auth.issue("dana", "data-scientist"),
            viewer=await auth.issue("vic", "viewer"),
        )
