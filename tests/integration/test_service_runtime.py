"""A service wired by the shared runtime: ready only once consuming, events flow end to end."""

from __future__ import annotations

from typing import Annotated, Any

import pytest
from fastapi import APIRouter, Depends

from shared.bus.unit_of_work import Transactions, UnitOfWork
from shared.events.envelope import Event
from shared.events.monitoring import Label, LabelsReceived
from shared.http.auth import Principal, require
from shared.runtime import Infrastructure, ServiceDefinition, ServiceParts
from shared.settings import Settings
from tests.support.polling import eventually
from tests.support.services import http, running

pytestmark = pytest.mark.integration


def definition(schema: str) -> ServiceDefinition:
    async def build(infra: Infrastructure) -> ServiceParts:
        await infra.pool.execute("CREATE TABLE IF NOT EXISTS seen (event_id text, model text)")

        async def on_labels(event: Event[Any], uow: UnitOfWork) -> None:
            await uow.conn.execute(
                "INSERT INTO seen VALUES ($1, $2)", event.id, event.data.model_name
            )

        router = APIRouter()

        @router.get("/whoami")
        async def whoami(
            principal: Annotated[Principal, Depends(require("viewer"))],
        ) -> dict[str, str]:
            return {"name": principal.name, "role": principal.role}

        return ServiceParts(handlers={"labels.received": on_labels}, routers=[router])

    return ServiceDefinition(schema, None, build)


async def test_service_consumes_its_own_outbox_and_guards_routes(
    settings: Settings, unique: str
) -> None:
    schema = f"svc_{unique}"
    async with running(definition(schema), settings) as service:
        assert service.infra is not None
        pool = service.infra.pool
        async with Transactions(pool, schema).begin() as uow:
            for i in range(20):
                await uow.emit(
                    LabelsReceived(
                        model_name=f"m-{unique}", labels=[Label(request_id=str(i), value=1)]
                    )
                )
        await eventually(
            lambda: pool.fetchval("SELECT count(*) = 20 FROM seen WHERE model = $1", f"m-{unique}"),
            what="20 events applied",
        )
        async with http(service) as client:
            assert (await client.get("/readyz")).status_code == 200
            # The gauge follows /readyz (it once read 0 while /readyz answered 200).
            exposed = (await client.get("/metrics")).text
            assert f'modelbus_ready{{service="{schema}"}} 1.0' in exposed
            denied = await client.get("/whoami")
            assert denied.status_code == 401
            assert denied.headers["www-authenticate"] == "Bearer"
        token = await service.infra.auth.issue("reader", "viewer")
        async with http(service, token) as client:
            assert (await client.get("/whoami")).json() == {"name": "reader", "role": "viewer"}
