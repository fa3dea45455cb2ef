"""One governance service for this package's tests (a group join per test would be slow).

Tests isolate by model name (the ``unique`` fixture) and run in the package's event loop:
mark a module with ``pytestmark = [pytest.mark.integration, LOOP]``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import pytest_asyncio

from services.governance.bootstrap import definition
from services.governance.settings import GovernanceSettings
from shared.events.common import Payload
from shared.events.envelope import Event
from shared.http.auth import principal_id
from shared.runtime import ServiceProcess
from shared.settings import Settings
from tests.support.bus import collect, publish
from tests.support.events import SIGNING_KEY_FILE
from tests.support.polling import eventually
from tests.support.services import http, running

LOOP = pytest.mark.asyncio(loop_scope="package")
# What other services, run by other test sessions on the same broker, may say in reply to
# these tests' synthetic events (a fake artifact can be neither registered nor loaded).
# Governance audits them like everything else; trail assertions look past them.
FOREIGN_REPLIES = frozenset({"model.registration_failed", "deployment.failed"})
AUDIT_KEY = "governance-tests-9f2c1e7a4b6d8e0f1a3c5e7b"
# People: olivia owns the test models (a name in metadata, which decides nothing); ann and
# bob approve; root is an admin. Decisions record their principal ids (``Governance.id``).
ROLES = {
    "olivia": "approver",
    "ann": "approver",
    "bob": "approver",
    "carol": "approver",
    "vic": "viewer",
    "dana": "data-scientist",
    "root": "admin",
}


@dataclass
class Governance:
    service: ServiceProcess
    bootstrap: str
    tokens: dict[str, str]

    def client(self, who: str = "vic") -> httpx.AsyncClient:
        return http(self.service, self.tokens[who])

    def id(self, who: str) -> str:
        """The principal id decisions record for ``who``'s token (never the name)."""
        return principal_id(self.tokens[who].split("_")[1])

    async def publish(self, *payloads: Payload, source: str = "registry") -> list[Event[Any]]:
        return await publish(self.bootstrap, *payloads, source=source)

    async def next_event(self, topic: str, model: str, count: int = 1) -> list[Event[Any]]:
        """The first ``count`` events on ``topic`` about ``model``."""
        return await collect(
            self.bootstrap,
            topic,
            until=lambda found: len(found) >= count,
            where=lambda e: e.data.model_name == model,
            timeout=30,
        )

    async def status(self, model: str, version: int) -> str | None:
        assert self.service.infra is not None
        status: str | None = await self.service.infra.pool.fetchval(
            "SELECT status FROM versions WHERE model_name = $1 AND version = $2", model, version
        )
        return status

    async def audited(self, event: Event[Any]) -> bool:
        assert self.service.infra is not None
        return bool(
            await self.service.infra.pool.fetchval(
                "SELECT count(*) FROM audit_log WHERE event_id = $1", event.id
            )
        )

    async def wait_for(self, probe: Callable[[], Awaitable[Any]], what: str) -> Any:
        return await eventually(probe, timeout=30, what=what)


@pytest_asyncio.fixture(scope="package", loop_scope="package")
async def governance(
    database_url: str, kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Governance]:
    settings = Settings(
        database_url=database_url,
        kafka_bootstrap=kafka_bootstrap,
        home=tmp_path_factory.mktemp("governance-home"),
        http_port=0,
    )
    own = GovernanceSettings(
        audit_key=AUDIT_KEY,  # type: ignore[arg-type]
        signing_key_file=SIGNING_KEY_FILE,
        checkpoint_every=50,
    )
    async with running(definition(own), settings) as service:
        assert service.infra is not None
        tokens = {name: await service.infra.auth.issue(name, role) for name, role in ROLES.items()}
        yield Governance(service, kafka_bootstrap, tokens)
