"""Every service built as the runtime builds it, in throwaway schemas, nothing started.

Each service's ``definition().build`` runs on real infrastructure (a pool on its own
schema, the artifact store, a producer, the token authority), then ``create_app``; its
consumers and workers are returned but never started, so nothing happens in the
background. Tests that check every service alike (route roles, the service skeleton) share
one build per module.
"""

from __future__ import annotations

import importlib
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI

from shared.bus.kafka import start_producer
from shared.http.app import create_app
from shared.http.auth import ROLES, Role, RouteRole, TokenAuthority, route_roles
from shared.runtime import Infrastructure, ServiceDefinition, ServiceParts, connect_and_migrate
from shared.settings import DEFAULT_PORTS, Settings
from shared.store.artifacts import open_store
from tests.support.events import SIGNING_KEY_FILE

SERVICES = tuple(sorted(DEFAULT_PORTS))
# Secrets a service refuses to start without (there are no defaults).
SECRETS = {
    "MODELBUS_GOVERNANCE_AUDIT_KEY": "built-services-test-7c1f9a2e4b6d8c0e2f4a6b8d",
    "MODELBUS_GOVERNANCE_SIGNING_KEY_FILE": str(SIGNING_KEY_FILE),
}


@dataclass
class Built:
    definition: ServiceDefinition
    parts: ServiceParts
    app: FastAPI
    routes: list[RouteRole]
    tokens: dict[Role, str]


def bootstrap(service: str) -> Any:
    return importlib.import_module(f"services.{service}.bootstrap")


@asynccontextmanager
async def built_services(
    database_url: str, kafka_bootstrap: str, home: Path
) -> AsyncIterator[dict[str, Built]]:
    settings = Settings(
        database_url=database_url, kafka_bootstrap=kafka_bootstrap, home=home, http_port=0
    )
    suffix = uuid.uuid4().hex[:8]
    producer = await start_producer(settings)
    pools: list[Any] = []
    apps: dict[str, Built] = {}
    try:
        with pytest.MonkeyPatch.context() as env:
            for name, value in SECRETS.items():
                env.setenv(name, value)
            for service in SERVICES:
                real: ServiceDefinition = bootstrap(service).definition()
                probe = ServiceDefinition(f"probe_{service}_{suffix}", real.migrations, real.build)
                pool = await connect_and_migrate(probe, settings)
                pools.append((pool, probe.name))
                auth = TokenAuthority(pool)
                await auth.ensure_schema()
                store = await open_store(settings.artifact_store_url(), pool)
                infra = Infrastructure(probe.name, settings, pool, store, producer, auth)
                parts = await real.build(infra)
                app = create_app(service, lambda: True, parts.routers, auth)
                tokens = {role: await auth.issue(f"probe-{role}", role) for role in ROLES}
                apps[service] = Built(real, parts, app, list(route_roles(app)), tokens)
        yield apps
    finally:
        for pool, schema in pools:
            await pool.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
            await pool.close()
        await producer.stop()
