"""The HTTP application of a service: its routes plus ``/healthz``, ``/readyz`` and ``/metrics``."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from shared.errors import ModelbusError, describe_validation
from shared.http.auth import TokenAuthority

# Routes any caller may reach without a token; every other route needs one.
PUBLIC_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})


def create_app(
    service: str,
    is_ready: Callable[[], bool],
    routers: list[APIRouter],
    auth: TokenAuthority,
) -> FastAPI:
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
        headers = {"WWW-Authenticate": "Bearer"} if exc.status_code == 401 else None
        return JSONResponse(exc.to_dict(), status_code=exc.status_code, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_: Request, exc: RequestValidationError) -> Response:
        problems = describe_validation(exc, limit=10)
        return JSONResponse({"error": problems, "code": "invalid_input"}, 400)

    for router in routers:
        app.include_router(router)
    return app
