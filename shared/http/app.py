"""The HTTP application of a service: its routes plus ``/healthz``, ``/readyz`` and ``/metrics``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.exceptions import HTTPException as StarletteHTTPException

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

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> Response:
        # Starlette's own refusals (no such route, wrong method, a multipart body it could
        # not parse) in the one error format; their texts are fixed, never the input.
        code = _HTTP_CODES.get(exc.status_code, "http_error")
        return JSONResponse(
            {"error": str(exc.detail), "code": code}, exc.status_code, headers=exc.headers
        )

    for router in routers:
        app.include_router(router)
    _document_errors(app)
    app.add_middleware(
        RequestGuard, auth=auth, routes=lambda: route_roles(app), max_body_bytes=max_body_bytes
    )
    return app


_HTTP_CODES = {
    400: "invalid_input",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
}

ERROR_SCHEMA: dict[str, Any] = {
    "title": "Error",
    "type": "object",
    "required": ["error", "code"],
    "properties": {
        "error": {"type": "string", "description": "what is wrong, never the input's values"},
        "code": {"type": "string", "description": "a stable code: invalid_input, not_found, ..."},
        "detail": {"type": "object"},
    },
}
_ERROR = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
# Answers of the request guard and of the app's error handlers, for every operation they
# can reach, in the one error format (FastAPI's default 422 is not what the app answers).
_GUARD = {
    "401": "no valid bearer token",
    "403": "the token's role may not do this",
    "429": "too many failed token checks from this address (see Retry-After)",
}


def _document_errors(app: FastAPI) -> None:
    """Make ``app.openapi()`` say what every route can answer besides its own success:
    the guard's refusals, invalid input (400), an oversized body (413), an unknown
    resource (404, for routes with path parameters), all as ``Error``."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        doc = build()
        doc.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
        for operations in doc.get("paths", {}).values():
            for operation in operations.values():
                responses = operation.setdefault("responses", {})
                if responses.get("422", {}).get("description") == "Validation Error":
                    del responses["422"]
                params = operation.get("parameters", [])
                errors = dict(_GUARD)
                if params or "requestBody" in operation:
                    errors["400"] = "invalid input: each problem named, never the values"
                if "requestBody" in operation:
                    errors["413"] = "the body is over the route's limit"
                if any(p.get("in") == "path" for p in params):
                    errors["404"] = "no such resource"
                for status, description in errors.items():
                    answer = responses.setdefault(status, {"description": description})
                    answer.setdefault("content", _ERROR)
        app.openapi_schema = doc
        return doc

    app.openapi = openapi  # type: ignore[method-assign]
