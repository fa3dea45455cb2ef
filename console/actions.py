"""Buttons: each forwards the person's own token, so the service decides (roles, four-eyes).

Every form carries the session's CSRF token; a POST without it is refused before anything
is forwarded. The service's answer, or its reason for refusing, is shown on the next page.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from console.services import ServiceError
from console.views import q
from console.web import checked_form, console, signed_in

MAX_COMMENT = 4000


def outcome(done: str, answer: Any) -> str:
    """What the service said it did, in a line: its message, or the status it reached."""
    if not isinstance(answer, dict):
        return done
    if answer.get("message"):
        return f"{done}: {answer['message']}"
    status = str(answer.get("status") or "").replace("_", " ")
    if "required_approvals" in answer:
        have, need = len(answer.get("approvers") or []), answer["required_approvals"]
        return f"{done}: {status} ({have} of {need} approvals)"
    return f"{done}: {status}" if status else done


def _back(form: dict[str, str], default: str) -> str:
    """Where to return: one of the console's own paths, never another site."""
    target = form.get("back", "")
    if target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return default


async def _forward(
    request: Request, service: str, path: str, body: dict[str, Any], done: str, default: str
) -> Response:
    here = console(request)
    session = signed_in(request)
    form = await checked_form(request, session)
    fields = {k: (form.get(k) or "")[:MAX_COMMENT] for k in body}
    payload = {k: v for k, v in {**body, **fields}.items() if v not in (None, "")}
    try:
        answer = await here.services.post(service, path, session.token, payload)
        session.notify("ok", outcome(done, answer))
    except ServiceError as refused:
        session.notify("refused", str(refused))
    return RedirectResponse(_back(form, default), 303)


def router() -> APIRouter:
    routes = APIRouter()
    version_path = "/v1/models/{}/versions/{}/{}"

    @routes.post("/reviews/{name}/{version}/approve")
    async def approve(request: Request, name: str, version: int) -> Response:
        return await _forward(
            request,
            "governance",
            version_path.format(q(name), version, "approve"),
            {"comment": ""},
            f"approved {name} v{version}",
            "/reviews",
        )

    @routes.post("/reviews/{name}/{version}/reject")
    async def reject(request: Request, name: str, version: int) -> Response:
        return await _forward(
            request,
            "governance",
            version_path.format(q(name), version, "reject"),
            {"comment": ""},
            f"rejected {name} v{version}",
            "/reviews",
        )

    @routes.post("/models/{name}/versions/{version}/suspend")
    async def suspend(request: Request, name: str, version: int) -> Response:
        return await _forward(
            request,
            "governance",
            version_path.format(q(name), version, "suspend"),
            {"reason": ""},
            f"suspended {name} v{version}",
            "/deployments",
        )

    @routes.post("/deployments/{name}/promote")
    async def promote(request: Request, name: str) -> Response:
        return await _forward(
            request,
            "deployer",
            f"/v1/deployments/{q(name)}/promote",
            {"reason": ""},
            f"promoted the candidate of {name}",
            "/deployments",
        )

    @routes.post("/deployments/{name}/rollback")
    async def rollback(request: Request, name: str) -> Response:
        return await _forward(
            request,
            "deployer",
            f"/v1/deployments/{q(name)}/rollback",
            {"reason": ""},
            f"rolled back {name}",
            "/deployments",
        )

    return routes
