"""What every console route needs: the signed-in session, a bounded form, the CSRF check."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qs

from fastapi import Request

from console.render import FRAGMENT_HEADER, Pages
from console.services import Services
from console.sessions import COOKIE, Session, SessionStore
from console.settings import ConsoleSettings

# A console form is a few fields and a comment; anything larger is not one of ours.
MAX_FORM_BYTES = 64 * 1024


class SignInRequired(Exception):
    """No live session: a page redirects to /signin, a refresh answers 401."""


class FormRefused(Exception):
    """A POST that is not a console form of this session (CSRF token missing or wrong,
    or too large); answered 403/413 and nothing is forwarded."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class Console:
    settings: ConsoleSettings
    sessions: SessionStore
    services: Services
    pages: Pages


def console(request: Request) -> Console:
    found: Console = request.app.state.console
    return found


def signed_in(request: Request) -> Session:
    session = console(request).sessions.get(request.cookies.get(COOKIE))
    if session is None:
        raise SignInRequired
    return session


def is_fragment(request: Request) -> bool:
    return request.headers.get(FRAGMENT_HEADER) == "1"


async def read_form(request: Request) -> dict[str, str]:
    """The urlencoded body, read up to :data:`MAX_FORM_BYTES`; first value of each field."""
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > MAX_FORM_BYTES):
        raise FormRefused(413, "this form is larger than any console form")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            raise FormRefused(413, "this form is larger than any console form")
    if request.headers.get("content-type", "").split(";")[0] != "application/x-www-form-urlencoded":
        raise FormRefused(415, "the console only accepts its own forms")
    fields = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
    return {k: v[0] for k, v in fields.items()}


async def checked_form(request: Request, session: Session) -> dict[str, str]:
    form = await read_form(request)
    if not session.csrf_matches(form.get("csrf")):
        raise FormRefused(
            403, "refused: this form did not come from your console session (CSRF token)"
        )
    return form
