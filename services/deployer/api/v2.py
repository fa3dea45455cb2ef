"""The Open Inference Protocol (KServe V2 REST) routes.

Raw Starlette routes rather than FastAPI path operations: dependency injection and response
validation would cost more than they give on a protocol whose bodies are tensors. Each
non-public route checks the bearer token through :func:`shared.http.auth.require`, called
directly, and carries its ``required_role`` for the route audit. :data:`PUBLIC_PATHS` are
the protocol's health probes, which orchestrators call without credentials. Inference is
the :class:`InferEndpoint` (bare ASGI, see :mod:`services.deployer.api.fast_path`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import orjson
from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from services.deployer.api.infer_endpoint import InferEndpoint, version_number
from services.deployer.serving.metadata import SERVER_NAME, SERVER_VERSION, model_metadata
from services.deployer.serving.repository import repository_index
from services.deployer.serving.table import ServedModel, ServedVersion, ServingTable
from shared.errors import InvalidInput, ModelbusError
from shared.http.auth import Role, require

PUBLIC_PATHS = frozenset({"/v2/health/live", "/v2/health/ready"})
JSON = "application/json"

Endpoint = Callable[[Request], Awaitable[Response]]


def _json(body: bytes, status: int = 200) -> Response:
    return Response(body, status, media_type=JSON)


def _error(exc: ModelbusError) -> Response:
    headers = {"WWW-Authenticate": "Bearer"} if exc.status_code == 401 else None
    return Response(orjson.dumps(exc.to_dict()), exc.status_code, headers, JSON)


def guarded(role: Role, endpoint: Endpoint) -> Endpoint:
    """``endpoint`` behind a bearer token of ``role``; errors become ``{"error": ...}``."""
    check = require(role)

    async def route(request: Request) -> Response:
        try:
            await check(request)
            return await endpoint(request)
        except ModelbusError as exc:
            return _error(exc)

    route.required_role = role  # type: ignore[attr-defined]  # read by the route audit
    route.__name__ = endpoint.__name__
    return route


def v2_router(table: ServingTable, infer: InferEndpoint) -> APIRouter:
    router = APIRouter()

    async def live(_: Request) -> Response:
        return _json(b'{"live":true}')

    async def ready(_: Request) -> Response:
        if table.ready:
            return _json(b'{"ready":true}')
        return _json(b'{"ready":false,"error":"loading the deployed models"}', 503)

    async def server_metadata(_: Request) -> Response:
        return _json(
            orjson.dumps(
                {
                    "name": SERVER_NAME,
                    "version": SERVER_VERSION,
                    "extensions": ["binary_tensor_data"],
                }
            )
        )

    def _served(request: Request) -> tuple[ServedModel, ServedVersion]:
        version = version_number(request.path_params.get("version"))
        return table.addressed(request.path_params["model_name"], version)

    async def metadata(request: Request) -> Response:
        return _json(orjson.dumps(model_metadata(*_served(request))))

    async def model_ready(request: Request) -> Response:
        model, served = _served(request)
        return _json(
            orjson.dumps({"name": model.name, "version": str(served.version), "ready": True})
        )

    async def index(request: Request) -> Response:
        """``POST /v2/repository/index``: an empty body, ``{}`` or ``{"ready": true}``."""
        raw = await request.body()
        try:
            doc = orjson.loads(raw) if raw.strip() else {}
        except orjson.JSONDecodeError as exc:
            raise InvalidInput(f"the request is not valid JSON: {exc}") from exc
        if not isinstance(doc, dict) or not isinstance(doc.get("ready", False), bool):
            raise InvalidInput('the body is a JSON object with an optional boolean "ready"')
        return _json(orjson.dumps(repository_index(table, ready_only=doc.get("ready", False))))

    router.add_route("/v2/health/live", live, ["GET"], include_in_schema=False)
    router.add_route("/v2/repository/index", guarded("viewer", index), ["POST"])
    router.add_route("/v2/health/ready", ready, ["GET"], include_in_schema=False)
    router.add_route("/v2", guarded("viewer", server_metadata), ["GET"])
    for prefix in ("/v2/models/{model_name}", "/v2/models/{model_name}/versions/{version}"):
        router.add_route(prefix, guarded("viewer", metadata), ["GET"])
        router.add_route(f"{prefix}/ready", guarded("viewer", model_ready), ["GET"])
        # An ASGI callable (not a function): Route hands it the raw scope.
        router.add_route(f"{prefix}/infer", infer, ["POST"])  # type: ignore[arg-type]
    return router
