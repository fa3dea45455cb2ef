"""Deny by default, for every service: each HTTP route declares the role it needs.

Each service's app is built exactly as the runtime builds it, in a throwaway schema and
without starting its consumers or workers (:mod:`tests.support.built_services`). Then:

* every route outside the explicit public list carries a :func:`shared.http.auth.require`
  dependency (found by its ``required_role``);
* without a token, or with a bad one, every such route answers 401 with
  ``WWW-Authenticate: Bearer``; with a token whose role is not enough, 403;
* with a role that is enough, safe (GET) routes never answer 401 or 403. Unsafe routes are
  not called with sufficient roles here: that would act; each service's own role table
  covers them (governance: tests/integration/governance/test_roles.py).

Services are discovered from the default port table, so a new service is covered as soon
as it exists.
"""

from __future__ import annotations

import re

import httpx
import pytest

from shared.http.app import PUBLIC_PATHS
from shared.http.auth import GRANTS, ROLES, RouteRole
from tests.support.built_services import SERVICES, Built

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="module")]

# Routes a caller may reach without a token, per service, on top of PUBLIC_PATHS: the
# Open Inference Protocol's health endpoints, which KServe clients probe without a token.
EXTRA_PUBLIC = {"deployer": frozenset({"/v2/health/live", "/v2/health/ready"})}


def _public(service: str, path: str) -> bool:
    return path in PUBLIC_PATHS | EXTRA_PUBLIC.get(service, frozenset())


def _url(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "1", path)


def _guarded(built: Built, service: str) -> list[tuple[str, RouteRole]]:
    return [
        (method, r)
        for r in built.routes
        if not _public(service, r.path)
        for method in sorted(r.methods)
        if method not in ("HEAD", "WEBSOCKET")
    ]


@pytest.mark.parametrize("service", SERVICES)
async def test_every_route_declares_a_role(built: dict[str, Built], service: str) -> None:
    unguarded = [
        f"{sorted(r.methods)} {r.path}"
        for r in built[service].routes
        if r.role is None and not _public(service, r.path)
    ]
    assert unguarded == [], f"{service} has routes anyone can call"


@pytest.mark.parametrize("service", SERVICES)
async def test_missing_bad_and_insufficient_tokens(built: dict[str, Built], service: str) -> None:
    app = built[service]
    transport = httpx.ASGITransport(app=app.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://probe") as client:
        for method, route in _guarded(app, service):
            url = _url(route.path)
            for headers in ({}, {"Authorization": "Bearer mb_000000000000_forged"}):
                response = await client.request(method, url, headers=headers)
                assert response.status_code == 401, f"{method} {route.path}: {response.text}"
                assert response.headers.get("www-authenticate") == "Bearer"
            for role in ROLES:
                headers = {"Authorization": f"Bearer {app.tokens[role]}"}
                if role in GRANTS[route.role]:  # type: ignore[index]
                    if method == "GET":
                        response = await client.request(method, url, headers=headers)
                        assert response.status_code not in (401, 403), (
                            f"{method} {route.path} as {role}: {response.text}"
                        )
                    continue
                response = await client.request(method, url, headers=headers)
                assert response.status_code == 403, f"{method} {route.path} as {role}"


async def test_public_routes_are_only_the_listed_ones(built: dict[str, Built]) -> None:
    for service, app in built.items():
        public = {r.path for r in app.routes if r.role is None}
        assert public <= PUBLIC_PATHS | EXTRA_PUBLIC.get(service, frozenset()), service


@pytest.mark.parametrize("service", SERVICES)
async def test_the_openapi_document_declares_the_refusals_every_route_can_answer(
    built: dict[str, Built], service: str
) -> None:
    """What a client generated from the document expects: the guard's 401/403/429, 400 (not
    FastAPI's default 422) for invalid input, 413 for bodies, 404 for path parameters, each
    in the one error format."""
    doc = built[service].app.openapi()
    assert set(doc["components"]["schemas"]["Error"]["required"]) == {"error", "code"}
    for path, operations in doc["paths"].items():
        for method, operation in operations.items():
            responses = operation["responses"]
            where = f"{service} {method.upper()} {path}"
            assert {"401", "403", "429"} <= set(responses), where
            assert responses.get("422", {}).get("description") != "Validation Error", where
            if operation.get("parameters") or "requestBody" in operation:
                assert responses["400"]["content"]["application/json"]["schema"] == {
                    "$ref": "#/components/schemas/Error"
                }, where
            if "{" in path:
                assert "404" in responses, where
            if "requestBody" in operation:
                assert "413" in responses, where


@pytest.mark.parametrize(
    ("service", "method", "path"),
    [
        ("governance", "POST", "/v1/models/m/versions/{v}/approve"),
        ("registry", "GET", "/v1/models/m/versions/{v}"),
        ("governance", "GET", "/v1/models/m/versions/{v}/card"),
        ("monitor", "GET", "/v1/models/m/windows?version={v}"),
        ("monitor", "GET", "/v1/models/m/series?metric=psi&version={v}"),
    ],
)
async def test_a_version_beyond_what_postgres_holds_is_invalid_input(
    built: dict[str, Built], service: str, method: str, path: str
) -> None:
    """Found by the fuzz tier: a version past int32 reached the query and was a 500."""
    app = built[service]
    headers = {"Authorization": f"Bearer {app.tokens['admin']}"}
    transport = httpx.ASGITransport(app=app.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        response = await client.request(method, path.format(v=2**40), headers=headers)
    assert response.status_code == 400, response.text


async def _admin_request(
    app: Built, method: str, url: str, content: bytes = b"", headers: dict[str, str] | None = None
) -> httpx.Response:
    headers = {"Authorization": f"Bearer {app.tokens['admin']}", **(headers or {})}
    transport = httpx.ASGITransport(app=app.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        return await client.request(method, url, headers=headers, content=content)


async def test_a_version_query_beyond_what_postgres_holds_is_invalid_input(
    built: dict[str, Built],
) -> None:
    """Found by the fuzz tier: ``compare?a=`` past int32 reached the query and was a 500."""
    response = await _admin_request(built["registry"], "GET", f"/v1/models/m/compare?a=1&b={2**31}")
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "invalid_input"


@pytest.mark.parametrize("service", SERVICES)
async def test_a_nul_in_the_query_or_path_is_invalid_input(
    built: dict[str, Built], service: str
) -> None:
    """Found by the fuzz tier: ``?name=%00`` reached Postgres, which cannot store it: a 500."""
    for url in ("/v1/models?name=a%00b", "/v1/models/a%00b"):
        response = await _admin_request(built[service], "GET", url)
        assert response.status_code == 400, (url, response.text)
        assert response.json() == {
            "error": "the path or query string contains a NUL character",
            "code": "invalid_input",
        }


@pytest.mark.parametrize("service", SERVICES)
async def test_routing_refusals_answer_in_the_one_error_format(
    built: dict[str, Built], service: str
) -> None:
    """Found by the fuzz tier: Starlette's own answers were ``{"detail": ...}``."""
    missing = await _admin_request(built[service], "GET", "/v1/no-such-route")
    assert missing.status_code == 404
    assert missing.json() == {"error": "Not Found", "code": "not_found"}
    wrong = await _admin_request(built[service], "DELETE", "/healthz")
    assert wrong.status_code == 405
    assert wrong.json()["code"] == "method_not_allowed"
    assert "allow" in wrong.headers


async def test_a_malformed_multipart_body_is_invalid_input_in_the_one_format(
    built: dict[str, Built],
) -> None:
    """Found by the fuzz tier: a body that is not the multipart it says got Starlette's format."""
    response = await _admin_request(
        built["registry"],
        "POST",
        "/v1/models/m/versions",
        content=b"--x\r\nnot a part\r\n",
        headers={"Content-Type": "multipart/form-data; boundary=x"},
    )
    assert response.status_code == 400, response.text
    assert set(response.json()) == {"error", "code"}
