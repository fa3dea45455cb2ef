"""Sign-in: a modelbus token exchanged for a session cookie; sign-out ends the session.

The token is checked by asking governance who it names (``/v1/whoami``), so a revoked or
made-up token is refused by the same authority as every other call. The sign-in form has
its own CSRF token (a double-submit cookie), so no other site can sign a browser in.
"""

from __future__ import annotations

import hmac
import secrets

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from console.services import Failed
from console.sessions import COOKIE
from console.web import FormRefused, console, read_form, signed_in

SIGNIN_COOKIE = "modelbus_console_signin"
MAX_TOKEN_CHARS = 200


def _set_cookie(response: Response, name: str, value: str, *, secure: bool, path: str) -> None:
    response.set_cookie(name, value, httponly=True, samesite="strict", secure=secure, path=path)


def router() -> APIRouter:
    routes = APIRouter()

    @routes.get("/signin")
    async def signin_form(request: Request) -> Response:
        here = console(request)
        nonce = secrets.token_urlsafe(32)
        response = here.pages.render(request, "signin.html", None, nonce=nonce, error=None)
        _set_cookie(
            response, SIGNIN_COOKIE, nonce, secure=here.settings.secure_cookies, path="/signin"
        )
        return response

    @routes.post("/signin")
    async def signin(request: Request) -> Response:
        here = console(request)
        form = await read_form(request)
        expected = request.cookies.get(SIGNIN_COOKIE) or ""
        if not expected or not hmac.compare_digest(expected, form.get("csrf", "")):
            raise FormRefused(403, "refused: this sign-in form did not come from the console")
        token = form.get("token", "").strip()

        def again(error: str, status: int) -> Response:
            return here.pages.render(
                request, "signin.html", None, nonce=expected, error=error, status_code=status
            )

        if not token or len(token) > MAX_TOKEN_CHARS:
            return again("Paste a modelbus token (it starts with mb_).", 400)
        who = await here.services.get("governance", "/v1/whoami", token)
        if isinstance(who, Failed):
            if who.status in (401, 403):
                return again("That token was not accepted: it is unknown or revoked.", 401)
            if who.status == 429:
                return again("Too many failed sign-ins from here; wait a minute.", 429)
            return again(f"Could not check the token: {who.message}", 502)
        session_id, _ = here.sessions.open(
            token, str(who["name"]), str(who["role"]), str(who["id"])
        )
        response = RedirectResponse("/", 303)
        _set_cookie(response, COOKIE, session_id, secure=here.settings.secure_cookies, path="/")
        response.delete_cookie(SIGNIN_COOKIE, path="/signin")
        return response

    @routes.post("/signout")
    async def signout(request: Request) -> Response:
        here = console(request)
        session = signed_in(request)
        form = await read_form(request)
        if not session.csrf_matches(form.get("csrf")):
            raise FormRefused(403, "refused: this form did not come from your console session")
        here.sessions.close(request.cookies.get(COOKIE))
        response = RedirectResponse("/signin", 303)
        response.delete_cookie(COOKIE, path="/")
        return response

    return routes
