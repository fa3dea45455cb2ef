"""The console's one wiring place: settings, sessions, the service clients, the routes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from console import actions, auth_routes, reports, views
from console.render import SECURITY_HEADERS, Pages
from console.services import Services
from console.sessions import SessionStore
from console.settings import ConsoleSettings
from console.web import Console, FormRefused, SignInRequired, is_fragment, signed_in

STATIC = Path(__file__).parent / "static"


def create_app(settings: ConsoleSettings | None = None) -> FastAPI:
    settings = settings or ConsoleSettings()
    services = Services(settings.service_urls(), settings.service_timeout_s)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        await services.aclose()

    app = FastAPI(
        title="modelbus console",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        lifespan=lifespan,
    )
    app.state.console = Console(
        settings,
        SessionStore(settings.session_ttl_s, settings.max_sessions),
        services,
        Pages(settings.refresh_s),
    )
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "alive", "service": "console"}

    @app.get("/readyz", include_in_schema=False)
    async def readyz() -> dict[str, str]:
        return {"status": "ready", "service": "console"}

    @app.exception_handler(SignInRequired)
    async def sign_in_first(request: Request, _: SignInRequired) -> Response:
        if is_fragment(request) or request.method != "GET":
            return JSONResponse({"error": "sign in first"}, 401, headers=SECURITY_HEADERS)
        return RedirectResponse("/signin", 303)

    @app.exception_handler(FormRefused)
    async def refused(request: Request, exc: FormRefused) -> Response:
        pages: Pages = request.app.state.console.pages
        try:
            session = signed_in(request)
        except SignInRequired:
            session = None
        return pages.render(
            request, "refused.html", session, status_code=exc.status, message=str(exc)
        )

    app.include_router(auth_routes.router())
    app.include_router(views.router())
    app.include_router(actions.router())
    app.include_router(reports.router())
    return app
