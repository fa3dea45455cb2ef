"""A model's card and monitoring summary as one self-contained HTML file to download.

Self-contained: the styles are inline and there is no script, image or link to fetch, so
the file reads the same when mailed, archived or opened offline.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import Response

from console.pages import monitoring
from console.render import SECURITY_HEADERS
from console.services import Failed
from console.views import MARKDOWN, SignedIn, gather, q
from console.web import console

STYLE = (Path(__file__).parent / "static" / "report.css").read_text()


def router() -> APIRouter:
    routes = APIRouter()

    @routes.get("/models/{name}/report.html")
    async def report(request: Request, name: str, session: SignedIn) -> Response:
        here = console(request)
        get = here.services.get
        data = await gather(
            detail=get("governance", f"/v1/models/{q(name)}", session.token),
            about=get("monitor", f"/v1/models/{q(name)}", session.token),
            drift=get(
                "monitor",
                f"/v1/models/{q(name)}/windows/history",
                session.token,
                kind="data",
                limit=12,
            ),
            performance=get(
                "monitor",
                f"/v1/models/{q(name)}/windows/history",
                session.token,
                kind="performance",
                limit=12,
            ),
            alerts=get(
                "monitor", "/v1/alerts", session.token, model_name=name, include_resolved="true"
            ),
        )
        detail = data["detail"] if not isinstance(data["detail"], Failed) else {}
        latest = detail.get("latest_version")
        card = (
            await get("governance", f"/v1/models/{q(name)}/versions/{latest}/card", session.token)
            if latest
            else None
        )
        about = data["about"] if not isinstance(data["about"], Failed) else {}
        drift = data["drift"]["windows"] if not isinstance(data["drift"], Failed) else []
        perf = data["performance"]["windows"] if not isinstance(data["performance"], Failed) else []
        features = (about.get("versions") or [{}])[-1].get("feature_names") or []
        heat = monitoring.heat_map(drift, features)
        html = here.pages.markup(
            "report.html",
            style=STYLE,
            name=name,
            detail=detail,
            card_html=MARKDOWN.render(card) if isinstance(card, str) else None,
            heat=heat,
            performance=perf,
            alerts=data["alerts"]["alerts"] if not isinstance(data["alerts"], Failed) else [],
            made_at=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
            made_by=session.name,
        )
        filename = f"{name}-report.html".replace('"', "")
        headers = {
            **SECURITY_HEADERS,
            "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
            "Content-Disposition": f'attachment; filename="{filename}"',
        }
        return Response(html, media_type="text/html; charset=utf-8", headers=headers)

    return routes
