"""Every registry route names the role it needs; writes need a data scientist."""

from __future__ import annotations

from typing import Any, cast

from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from services.registry.api import aliases, lifecycle, models, upload
from services.registry.registration import Registrar
from services.registry.settings import RegistrySettings
from shared.bus.unit_of_work import Transactions


def roles(dependant: Dependant) -> set[str]:
    found = set()
    for dependency in dependant.dependencies:
        role = getattr(dependency.call, "required_role", None)
        if role is not None:
            found.add(role)
        found |= roles(dependency)
    return found


def routes() -> list[APIRoute]:
    pool, store = cast(Any, None), cast(Any, None)
    routers = [
        models.router(pool, store),
        upload.router(Transactions(pool, "registry"), Registrar(store, RegistrySettings())),
        aliases.router(pool),
        lifecycle.router(pool),
    ]
    return [r for router in routers for r in router.routes if isinstance(r, APIRoute)]


def test_every_route_requires_a_role() -> None:
    by_route = {
        (method, r.path): roles(r.dependant) for r in routes() for method in r.methods or ()
    }
    assert all(len(needed) == 1 for needed in by_route.values()), by_route
    writes = {key: needed for key, needed in by_route.items() if key[0] != "GET"}
    assert writes == {
        ("POST", "/models/{name}/versions"): {"data-scientist"},
        ("PUT", "/models/{name}/aliases/{alias}"): {"data-scientist"},
        ("DELETE", "/models/{name}/aliases/{alias}"): {"data-scientist"},
    }
    assert all(needed == {"viewer"} for key, needed in by_route.items() if key[0] == "GET")
    assert len(by_route) == 14
