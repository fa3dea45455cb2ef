"""The HTTP application of a service: its routes plus ``/healthz``, ``/readyz`` and ``/metrics``."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from shared.errors import ModelbusError, describe_validation
from shared.http.auth import TokenAuthority, route_roles
from shared.http.guard import DEFAULT_MAX_BODY_BYTES, RequestGuard, error_response

# Routes any caller may reach without a token; every other route needs one.
PUBLIC_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})


def create_app(
    service: str,
    is_ready: Callable[[], bool],
    routers: list[APIRouter],
    auth: TokenAuthority,
    *,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
) -> FastAPI:
    """The app, behind the :class:`RequestGuard`: every request authenticated (unless its
    route is public) and its body limited before any route sees it."""
    # No /docs, /redoc or /openapi.json: they would be routes without a token (deny by
    # default); app.openapi() still builds the document for whoever needs it offline.
    app = FastAPI(
        title=f"modelbus {service}", version="1", docs_url=None, redoc_url=None, openapi_url=None
    )
    app.state.auth = auth

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "alive", "service": service}

    @app.get("/readyz", include_in_schema=False)
    async def readyz() -> Response:
        if is_ready():
            return JSONResponse({"status": "ready", "service": service})
        return JSONResponse({"status": "starting", "service": service}, status_code=503)

    @app.get("/metrics", include_in_schema=False)
    async def prometheus_metrics() -> Response:
        return PlainTextResponse(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    @app.exception_handler(ModelbusError)
    async def modelbus_error(_: Request, exc: ModelbusError) -> Response:
        status, body, headers = error_response(exc)
        return Response(body, status, {k.decode(): v.decode() for k, v in headers})

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_: Request, exc: RequestValidationError) -> Response:
        problems = describe_validation(exc, limit=10)
        return JSONResponse({"error": problems, "code": "invalid_input"}, 400)

    for router in routers:
        app.include_router(router)
    app.add_middleware(
        RequestGuard, auth=auth, routes=lambda: route_roles(app), max_body_bytes=max_body_bytes
    )
    return app
