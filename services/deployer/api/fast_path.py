"""Inference requests answered before the framework's middleware stack.

FastAPI's stack (error and exception middleware, body limits, telemetry, nested router
matching) costs more per request than a small model's run, so ``POST .../infer`` is
recognised here by splitting the path and handed straight to the :class:`InferEndpoint`
that the app's router also declares (the route audit and plain ASGI tests go through the
router; live traffic comes through here). Everything else goes to the app unchanged.
"""

from __future__ import annotations

from collections.abc import Callable

from starlette.types import ASGIApp, Receive, Scope, Send

from services.deployer.api.infer_endpoint import InferEndpoint


def infer_params(method: str, path: str) -> dict[str, str] | None:
    """Path parameters of an inference call, or None if ``path`` is not one."""
    if method != "POST" or not path.endswith("/infer") or not path.startswith("/v2/models/"):
        return None
    parts = path.split("/")  # "", "v2", "models", name, [versions, v,] infer
    if len(parts) == 5 and parts[3]:
        return {"model_name": parts[3]}
    if len(parts) == 7 and parts[3] and parts[4] == "versions" and parts[5]:
        return {"model_name": parts[3], "version": parts[5]}
    return None


def fast_path(endpoint: InferEndpoint) -> Callable[[ASGIApp], ASGIApp]:
    """An ASGI wrapper (for ``ServiceParts.asgi_wrappers``) routing inference to ``endpoint``."""

    def wrap(app: ASGIApp) -> ASGIApp:
        async def asgi(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] == "http":
                params = infer_params(scope["method"], scope["path"])
                if params is not None:
                    scope["path_params"] = params
                    # require() finds the token authority on the app (the FastAPI app:
                    # this wrapper must be the first, i.e. innermost).
                    scope["app"] = app
                    await endpoint(scope, receive, send)
                    return
            await app(scope, receive, send)

        return asgi

    return wrap
