"""What governance knows, for anyone with a token: models, versions' cards, reviews, policies."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

import asyncpg
from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import PlainTextResponse

from services.governance.inventory.card import render_card
from services.governance.recording import Governance
from services.governance.store import audit_queries, inventory_queries
from shared.errors import InvalidInput
from shared.http.auth import Viewer
from shared.http.params import Version

MAX_PAGE = 1000  # models per inventory page


def router(pool: asyncpg.Pool, governance: Governance) -> APIRouter:
    routes = APIRouter()

    @routes.get("/whoami")
    async def whoami(principal: Viewer) -> dict[str, str]:
        """Who the caller's token names and its role (the console's sign-in asks this)."""
        return {"name": principal.name, "role": principal.role, "id": principal.id}

    @routes.get("/models")
    async def inventory(
        _: Viewer,
        request: Request,
        response: Response,
        limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = MAX_PAGE,
        after: Annotated[str | None, Query(description="the last name of the page before")] = None,
        name: Annotated[str | None, Query(description="part of the model name")] = None,
        team: str | None = None,
        risk_tier: str | None = None,
        status: Annotated[
            str | None, Query(description="serving, in_review, or a version's status")
        ] = None,
    ) -> list[dict[str, Any]]:
        """Models in name order, a page at a time: a full page has a ``Link`` header with
        ``rel="next"`` naming the page after it."""
        query = inventory_queries.InventoryQuery(limit, after, name, team, risk_tier, status)
        async with pool.acquire() as conn:
            page = await inventory_queries.inventory(conn, query)
        if len(page) == limit:
            following = request.url.include_query_params(after=page[-1]["name"])
            response.headers["Link"] = f'<{following.path}?{following.query}>; rel="next"'
        return page

    @routes.get("/model-facets")
    async def model_facets(_: Viewer) -> dict[str, list[str]]:
        """The values the inventory's filters take: every team, risk tier and status."""
        async with pool.acquire() as conn:
            return await inventory_queries.facets(conn)

    @routes.get("/models/{name}")
    async def model(name: str, _: Viewer) -> dict[str, Any]:
        async with pool.acquire() as conn:
            return await inventory_queries.model_detail(conn, name)

    @routes.get("/models/{name}/versions/{version}/card", response_class=PlainTextResponse)
    async def card(name: str, version: Version, _: Viewer) -> PlainTextResponse:
        async with pool.acquire() as conn:
            facts = await inventory_queries.card_facts(conn, name, version)
        return PlainTextResponse(render_card(facts), media_type="text/markdown")

    @routes.get("/reviews")
    async def reviews(_: Viewer) -> list[dict[str, Any]]:
        async with pool.acquire() as conn:
            return await inventory_queries.open_reviews(conn)

    @routes.get("/as-of")
    async def as_of(_: Viewer, time: datetime, model: str | None = None) -> dict[str, Any]:
        if time.tzinfo is None:
            raise InvalidInput("time needs a timezone, e.g. 2025-01-31T12:00:00Z")
        async with pool.acquire() as conn:
            return await audit_queries.as_of(conn, time.astimezone(UTC), model)

    @routes.get("/policies")
    async def policies(_: Viewer) -> list[dict[str, Any]]:
        return [
            {
                "name": p.policy.name,
                "version": p.policy.version,
                "digest": p.digest,
                "description": p.policy.description,
                "source": p.path.name,
            }
            for p in governance.policies.values()
        ]

    return routes
