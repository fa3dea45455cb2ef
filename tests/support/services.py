"""Running a service inside the test's event loop, on a free port, stopped afterwards."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx

from shared.runtime import ServiceDefinition, ServiceProcess
from shared.settings import Settings
from tests.support.polling import eventually


@asynccontextmanager
async def running(
    definition: ServiceDefinition, settings: Settings
) -> AsyncIterator[ServiceProcess]:
    service = ServiceProcess(definition, settings)
    try:
        await service.start()
        await eventually(lambda: _is_set(service), timeout=60, what=f"{definition.name} ready")
        yield service
    finally:
        await service.stop()


async def _is_set(service: ServiceProcess) -> bool:
    return service.ready.is_set()


def http(
    service: ServiceProcess, token: str | None = None, timeout: float = 30
) -> httpx.AsyncClient:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{service.port}", headers=headers, timeout=timeout
    )
