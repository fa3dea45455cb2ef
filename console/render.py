"""Jinja2 pages: the whole page, or only its ``content`` block for the live refresh."""

from __future__ import annotations

import math
from datetime import datetime
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from console.sessions import Session

TEMPLATES = Path(__file__).parent / "templates"
DASH = "\N{EN DASH}"  # what a table shows for "no value"
# Asked for by the page's own refresh script: only the content block is sent back.
FRAGMENT_HEADER = "x-console-fragment"

# Content-Security-Policy: scripts and styles only from the console itself, no framing.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def number(value: Any, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return DASH
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def when(value: str | None) -> str:
    """An ISO time as ``2026-12-02 04:35:12 UTC``."""
    if not value:
        return DASH
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return value
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["number"] = number
    env.filters["when"] = when
    return env


class Pages:
    def __init__(self, refresh_s: float) -> None:
        self.env = environment()
        self.refresh_s = refresh_s

    def render(
        self,
        request: Request,
        template: str,
        session: Session | None,
        *,
        status_code: int = 200,
        **context: Any,
    ) -> HTMLResponse:
        tmpl = self.env.get_template(template)
        fragment = request.headers.get(FRAGMENT_HEADER) == "1" and "content" in tmpl.blocks
        values = {
            "session": session,
            # A refresh keeps the notices already on screen and leaves new ones for a full page.
            "notices": session.take_notices() if session and not fragment else [],
            "refresh_s": self.refresh_s,
            "path": request.url.path,
            **context,
        }
        if fragment:
            body = "".join(tmpl.blocks["content"](tmpl.new_context(values)))
        else:
            body = tmpl.render(values)
        return HTMLResponse(body, status_code=status_code, headers=SECURITY_HEADERS)

    def markup(self, template: str, **context: Any) -> str:
        return self.env.get_template(template).render(context)
