"""Every registry route names the role it needs; writes need a data scientist."""

from __future__ import annotations

from typing import Any, cast

from fastapi import FastAPI

from services.registry import api
from services.registry.registration import Registrar
from services.registry.settings import RegistrySettings
from shared.bus.unit_of_work import Transactions
from shared.http.auth import RouteRole, route_roles


def routes() -> list[RouteRole]:
    nothing = cast(Any, None)  # the routes are only listed, never called
    registrar = Registrar(nothing, RegistrySettings())
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
    app.include_router(api.router(Transactions(nothing, "registry"), nothing, registrar))
    return list(route_roles(app))


def test_every_route_requires_a_role() -> None:
    by_route = {(method, r.path): r.role for r in routes() for method in r.methods}
    assert all(role is not None for role in by_route.values()), by_route
    writes = {key: role for key, role in by_route.items() if key[0] != "GET"}
    assert writes == {
        ("POST", "/v1/models/{name}/versions"): "data-scientist",
        ("POST", "/v1/models/{name}/rules"): "data-scientist",
        ("PUT", "/v1/models/{name}/aliases/{alias}"): "data-scientist",
        ("DELETE", "/v1/models/{name}/aliases/{alias}"): "data-scientist",
        ("POST", "/v1/models/{name}/risk-tier"): "approver",
    }
    assert all(role == "viewer" for key, role in by_route.items() if key[0] == "GET")
    assert len(by_route) == 16
