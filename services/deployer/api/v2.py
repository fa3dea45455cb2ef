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
from services.deployer.serving.table import ServedVersion, ServingTable
from shared.errors import ModelbusError
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


def _metadata(name: str, served: ServedVersion, versions: list[int]) -> dict[str, object]:
    return {
        "name": name,
        "versions": [str(v) for v in versions],
        "platform": "onnxruntime_onnx",
        "inputs": [t.describe() for t in served.model.inputs],
        "outputs": [t.describe() for t in served.model.outputs],
    }


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
                {"name": "modelbus-deployer", "version": "1", "extensions": ["binary_tensor_data"]}
            )
        )

    def _served(request: Request) -> tuple[str, ServedVersion, list[int]]:
        name = request.path_params["model_name"]
        model = table.get(name)
        version = version_number(request.path_params.get("version"))
        served = model.version(version) if version is not None else model.default()
        return name, served, [s.version for s in model.serving]

    async def model_metadata(request: Request) -> Response:
        name, served, versions = _served(request)
        return _json(orjson.dumps(_metadata(name, served, versions)))

    async def model_ready(request: Request) -> Response:
        name, served, _ = _served(request)
        return _json(orjson.dumps({"name": name, "version": str(served.version), "ready": True}))

    router.add_route("/v2/health/live", live, ["GET"], include_in_schema=False)
    router.add_route("/v2/health/ready", ready, ["GET"], include_in_schema=False)
    router.add_route("/v2", guarded("viewer", server_metadata), ["GET"])
    for prefix in ("/v2/models/{model_name}", "/v2/models/{model_name}/versions/{version}"):
        router.add_route(prefix, guarded("viewer", model_metadata), ["GET"])
        router.add_route(f"{prefix}/ready", guarded("viewer", model_ready), ["GET"])
        # An ASGI callable (not a function): Route hands it the raw scope.
        router.add_route(f"{prefix}/infer", infer, ["POST"])  # type: ignore[arg-type]
    return router
