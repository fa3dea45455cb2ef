"""The route audit sees every kind of route, and governance's routes need the right roles.

Governance's app is built here without infrastructure (its routes touch the database only
when called), with a fake token authority: who gets 401 and 403 is decided before that.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import APIRouter, Depends
from starlette.requests import Request
from starlette.responses import PlainTextResponse

from services.governance import api
from services.governance.audit.log import AuditLog
from services.governance.recording import Governance
from shared.bus.unit_of_work import Transactions
from shared.http.app import PUBLIC_PATHS, create_app
from shared.http.auth import GRANTS, ROLES, Principal, require, route_roles
from tests.support.events import SIGNER

EXPECTED = {
    ("GET", "/v1/audit/checkpoints/latest"): "viewer",
    ("GET", "/v1/whoami"): "viewer",
    ("POST", "/v1/models/{name}/versions/{version}/approve"): "approver",
    ("POST", "/v1/models/{name}/versions/{version}/reject"): "approver",
    ("POST", "/v1/models/{name}/versions/{version}/suspend"): "admin",
    ("POST", "/v1/models/{name}/versions/{version}/retire"): "approver",
    ("POST", "/v1/audit/checkpoints"): "admin",
    **{
        ("GET", path): "viewer"
        for path in (
            "/v1/models",
            "/v1/models/{name}",
            "/v1/model-facets",
            "/v1/models/{name}/audit",
            "/v1/models/{name}/versions/{version}/card",
            "/v1/reviews",
            "/v1/as-of",
            "/v1/audit",
            "/v1/audit/checkpoints/latest",
            "/v1/policies",
            "/v1/whoami",
        )
    },
}


class FakeAuthority:
    """Tokens are role names."""

    async def authenticate(self, token: str, client: str | None = None) -> Principal | None:
        return Principal(f"someone-{token}", token, "t") if token in ROLES else None  # type: ignore[arg-type]


def governance_app() -> Any:
    governance = Governance(policies={}, log=AuditLog(b"k" * 32), signer=SIGNER)
    return create_app(
        "governance",
        lambda: True,
        [api.router(Transactions(None, "governance"), governance)],  # type: ignore[arg-type]
        FakeAuthority(),
    )  # type: ignore[arg-type]


def test_route_roles_sees_dependencies_included_routers_and_raw_routes() -> None:
    inner = APIRouter(prefix="/inner", dependencies=[Depends(require("admin"))])

    @inner.get("/x")
    async def x() -> dict[str, str]:
        return {}

    open_router = APIRouter()

    @open_router.get("/open")
    async def anyone() -> dict[str, str]:
        return {}

    async def raw(_: Request) -> PlainTextResponse:
        return PlainTextResponse("")

    raw.required_role = "viewer"  # type: ignore[attr-defined]
    open_router.add_route("/raw", raw, ["GET"])
    app = create_app("t", lambda: True, [inner, open_router], FakeAuthority())  # type: ignore[arg-type]
    roles = {r.path: r.role for r in route_roles(app)}
    assert roles["/inner/x"] == "admin"
    assert roles["/raw"] == "viewer"
    assert roles["/open"] is None  # what the deny-by-default audit fails on
    assert {p for p, role in roles.items() if role is None} == PUBLIC_PATHS | {"/open"}


def test_every_governance_route_declares_the_expected_role() -> None:
    declared = {
        (m, r.path): r.role
        for r in route_roles(governance_app())
        if r.path not in PUBLIC_PATHS
        for m in r.methods
    }
    assert declared == EXPECTED


@pytest.mark.parametrize(("method", "path"), sorted(EXPECTED))
async def test_denied_roles_get_403_and_missing_tokens_401(method: str, path: str) -> None:
    needed = EXPECTED[(method, path)]
    url = path.format(name="m", version=1)
    transport = httpx.ASGITransport(app=governance_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        missing = await client.request(method, url)
        assert missing.status_code == 401 and missing.headers["www-authenticate"] == "Bearer"
        for role in ROLES:
            if role not in GRANTS[needed]:  # type: ignore[index]
                denied = await client.request(
                    method, url, headers={"Authorization": f"Bearer {role}"}
                )
                assert denied.status_code == 403, (role, denied.text)
