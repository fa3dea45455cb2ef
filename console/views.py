"""The six pages. Each gathers its reads concurrently, then a ``pages`` module shapes them."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse
from markdown_it import MarkdownIt

from console.pages import audit, deployments, inventory, model, monitoring, permissions
from console.services import Failed
from console.sessions import Session
from console.web import console, signed_in

SignedIn = Annotated[Session, Depends(signed_in)]
# What the audit page's type filter offers: every topic governance records.
AUDIT_ACTIONS = sorted(model.TIMELINE_WORDS)
# Models per inventory page: each serving one costs a monitoring read.
INVENTORY_PAGE = 200
# Reads of per-model monitoring for the inventory run at most this many at once.
FAN_OUT = 16
# Markdown of model cards is rendered with raw HTML disabled: a card cannot inject markup.
MARKDOWN = MarkdownIt("commonmark", {"html": False}).enable("table")


def q(name: str) -> str:
    return quote(name, safe="")


async def gather(**reads: Awaitable[Any]) -> dict[str, Any]:
    values = await asyncio.gather(*reads.values())
    return dict(zip(reads, values, strict=True))


def failures(data: dict[str, Any]) -> list[str]:
    return [str(v) for v in data.values() if isinstance(v, Failed)]


def chart_json(chart: dict[str, Any]) -> str:
    """Chart data for a ``<script type="application/json">``; ``<`` escaped so it cannot
    close the script element whatever a feature is called."""
    return json.dumps(chart).replace("<", "\\u003c")


def router() -> APIRouter:
    routes = APIRouter()

    @routes.get("/", response_class=HTMLResponse)
    async def inventory_page(
        request: Request,
        session: SignedIn,
        team: str | None = None,
        tier: str | None = None,
        status: str | None = None,
        after: str | None = None,
    ) -> HTMLResponse:
        here = console(request)
        get = here.services.get
        data = await gather(
            models=get(
                "governance",
                "/v1/models",
                session.token,
                limit=INVENTORY_PAGE,
                after=after or None,
                **inventory.service_filters(team=team, tier=tier, status=status),
            ),
            alerts=get("monitor", "/v1/alerts", session.token, include_resolved="true"),
            facets=get("governance", "/v1/model-facets", session.token),
        )
        models = data["models"] if not isinstance(data["models"], Failed) else []
        alerts = data["alerts"]["alerts"] if not isinstance(data["alerts"], Failed) else []
        limit = asyncio.Semaphore(FAN_OUT)

        async def latest(name: str) -> list[dict[str, Any]] | None:
            async with limit:
                answer = await get("monitor", f"/v1/models/{q(name)}/windows", session.token)
            return None if isinstance(answer, Failed) else answer["windows"]

        watched = [m["name"] for m in models if m.get("serving")]
        windows = dict(zip(watched, await asyncio.gather(*map(latest, watched)), strict=True))
        rows = inventory.rows(models, alerts, windows)
        shown = [r for r in rows if inventory.matches(r, team=team, tier=tier, status=status)]
        return here.pages.render(
            request,
            "inventory.html",
            session,
            rows=shown,
            pages=inventory.pages(
                {"team": team, "tier": tier, "status": status},
                after=after,
                last=rows[-1].name if len(rows) == INVENTORY_PAGE else None,
            ),
            options=inventory.filter_options(data["facets"], rows),
            chosen={"team": team, "tier": tier, "status": status},
            problems=failures(data),
        )

    @routes.get("/models/{name}", response_class=HTMLResponse)
    async def model_page(
        request: Request, name: str, session: SignedIn, version: int | None = None
    ) -> HTMLResponse:
        here = console(request)
        get = here.services.get
        data = await gather(
            versions=get("registry", f"/v1/models/{q(name)}/versions", session.token),
            detail=get("governance", f"/v1/models/{q(name)}", session.token),
            records=get("governance", f"/v1/models/{q(name)}/audit", session.token),
        )
        versions = data["versions"] if not isinstance(data["versions"], Failed) else []
        detail = data["detail"] if not isinstance(data["detail"], Failed) else {}
        records = data["records"] if not isinstance(data["records"], Failed) else []
        chosen = version or (versions[-1]["version"] if versions else None)
        card = None
        if chosen is not None:
            card = await get(
                "governance", f"/v1/models/{q(name)}/versions/{chosen}/card", session.token
            )
        selected = next((v for v in versions if v["version"] == chosen), None)
        checks: list[dict[str, Any]] = next(
            (v.get("checks", []) for v in detail.get("versions", []) if v["version"] == chosen),
            [],
        )
        champion, challenger = model.champion_and_challenger(versions, detail.get("serving"))
        return here.pages.render(
            request,
            "model.html",
            session,
            name=name,
            detail=detail,
            versions=versions,
            chosen=chosen,
            timeline=model.timeline(records),
            lineage=model.lineage(versions, records),
            champion=champion,
            challenger=challenger,
            metrics=model.metric_rows(champion, challenger),
            fairness=model.fairness(selected, checks),
            importance=chart_json(model.importance_chart(selected)),
            card_html=MARKDOWN.render(card) if isinstance(card, str) else None,
            card_problem=str(card) if isinstance(card, Failed) else None,
            problems=failures(data),
        )

    @routes.get("/models/{name}/monitoring", response_class=HTMLResponse)
    async def monitoring_page(
        request: Request, name: str, session: SignedIn, window: int | None = None
    ) -> HTMLResponse:
        here = console(request)
        get = here.services.get
        history = f"/v1/models/{q(name)}/windows/history"
        data = await gather(
            about=get("monitor", f"/v1/models/{q(name)}", session.token),
            drift=get("monitor", history, session.token, kind="data", limit=30),
            performance=get("monitor", history, session.token, kind="performance", limit=30),
            alerts=get(
                "monitor", "/v1/alerts", session.token, model_name=name, include_resolved="true"
            ),
        )
        about = data["about"] if not isinstance(data["about"], Failed) else {}
        drift = data["drift"]["windows"] if not isinstance(data["drift"], Failed) else []
        perf = data["performance"]["windows"] if not isinstance(data["performance"], Failed) else []
        alerts = data["alerts"]["alerts"] if not isinstance(data["alerts"], Failed) else []
        features = (about.get("versions") or [{}])[-1].get("feature_names") or []
        clicked = next((w for w in [*drift, *perf] if w["window_id"] == window), None)
        return here.pages.render(
            request,
            "monitoring.html",
            session,
            name=name,
            heat=monitoring.heat_map(drift, features),
            clicked=clicked,
            clicked_numbers=monitoring.window_numbers(clicked),
            alerts=alerts,
            prediction=chart_json(
                monitoring.series_chart(
                    "Prediction drift (PSI of the predicted class)",
                    drift,
                    ["psi.prediction", "jensen_shannon.prediction"],
                    thresholds={"PSI threshold": 0.2},
                )
            ),
            performance=chart_json(monitoring.performance_chart(perf, drift, alerts)),
            estimated=any("estimated_accuracy" in (w.get("metrics") or {}) for w in drift),
            multivariate=chart_json(monitoring.multivariate_chart(drift)),
            latency=chart_json(
                monitoring.series_chart(
                    "Latency (ms) per window", drift, ["latency_p50_ms", "latency_p95_ms"]
                )
            ),
            errors=chart_json(
                monitoring.series_chart("Error rate per window", drift, ["error_rate"])
            ),
            problems=failures(data),
        )

    @routes.get("/deployments", response_class=HTMLResponse)
    async def deployments_page(request: Request, session: SignedIn) -> HTMLResponse:
        here = console(request)
        answer = await here.services.get("deployer", "/v1/deployments", session.token)
        shown = []
        for d in [] if isinstance(answer, Failed) else answer["models"]:
            buttons = permissions.steer_deployment(
                session.role,
                has_candidate=d.get("candidate") is not None,
                has_previous=d.get("previous_version") is not None,
            )
            shown.append(
                {**d, "progress": deployments.progress(d.get("serving_here")), "buttons": buttons}
            )
        return here.pages.render(
            request,
            "deployments.html",
            session,
            deployments=shown,
            problems=[str(answer)] if isinstance(answer, Failed) else [],
        )

    @routes.get("/reviews", response_class=HTMLResponse)
    async def reviews_page(
        request: Request,
        session: SignedIn,
        tier: str | None = None,
        model_name: Annotated[str | None, Query(alias="model", max_length=200)] = None,
    ) -> HTMLResponse:
        here = console(request)
        answer = await here.services.get("governance", "/v1/reviews", session.token)
        waiting = [] if isinstance(answer, Failed) else answer
        shown = []
        for r in waiting:
            if tier and r.get("risk_tier") != tier:
                continue
            if model_name and model_name.lower() not in str(r.get("model_name", "")).lower():
                continue
            decide = permissions.decide_review(
                session.role,
                session.principal_id,
                requester=r.get("requested_by"),
                registrant=r.get("registered_by"),
                approvers=r.get("approvers", []),
            )
            failed = [c["name"] for c in r.get("checks", []) if not c.get("passed")]
            shown.append({**r, "decide": decide, "failed_checks": failed})
        return here.pages.render(
            request,
            "reviews.html",
            session,
            reviews=shown,
            total=len(waiting),
            tiers=sorted({str(r["risk_tier"]) for r in waiting if r.get("risk_tier")}),
            chosen={"tier": tier or "", "model": model_name or ""},
            problems=[str(answer)] if isinstance(answer, Failed) else [],
        )

    @routes.get("/audit", response_class=HTMLResponse)
    async def audit_page(
        request: Request,
        session: SignedIn,
        model_name: Annotated[str | None, Query(alias="model")] = None,
        action: str | None = None,
        correlation: str | None = None,
        limit: Annotated[int, Query(ge=1, le=10_000)] = 200,
    ) -> HTMLResponse:
        here = console(request)
        get = here.services.get
        data = await gather(
            records=get(
                "governance",
                "/v1/audit",
                session.token,
                model=model_name or None,
                action=action or None,
                limit=limit,
            ),
            head=get("governance", "/v1/audit/checkpoints/latest", session.token),
            promoted=get(
                "governance",
                "/v1/audit",
                session.token,
                model=model_name or None,
                action="model.promoted",
                limit=1,
            ),
        )
        records = data["records"] if not isinstance(data["records"], Failed) else []
        promoted = data["promoted"] if not isinstance(data["promoted"], Failed) else []
        # One chain: the one asked for, else the latest promotion's (drift → retraining →
        # approval → canary → promotion).
        chain_id = correlation or (promoted[-1].get("correlation_id") if promoted else None)
        chain: list[dict[str, Any]] = []
        if chain_id:
            found = await get(
                "governance", "/v1/audit", session.token, correlation_id=chain_id, limit=500
            )
            chain = [] if isinstance(found, Failed) else found
        return here.pages.render(
            request,
            "audit.html",
            session,
            records=records[::-1],
            check=audit.check_chain(records),
            head=data["head"] if not isinstance(data["head"], Failed) else None,
            chain_id=chain_id,
            chain=model.timeline(chain),
            actions=AUDIT_ACTIONS,
            chosen={"model": model_name, "action": action, "limit": limit},
            problems=failures(data),
        )

    return routes
