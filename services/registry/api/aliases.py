"""Routes for aliases: set, move, delete, and where one pointed at any time."""

from __future__ import annotations

from typing import Annotated, Any

import asyncpg
from fastapi import APIRouter, Path, Response

from services.registry.api.params import At, ModelName, as_utc
from services.registry.api.schemas import AliasMove, AliasState, AliasTarget
from services.registry.domain.names import ALIAS_PATTERN
from services.registry.store import aliases
from shared.http.auth import DataScientist, Viewer

AliasName = Annotated[str, Path(pattern=ALIAS_PATTERN, description="e.g. champion")]


def router(pool: asyncpg.Pool) -> APIRouter:
    api = APIRouter(prefix="/{name}/aliases", tags=["aliases"])

    @api.get("", response_model=dict[str, int])
    async def list_aliases(_: Viewer, name: ModelName) -> Any:
        async with pool.acquire() as conn:
            return await aliases.current_aliases(conn, name)

    @api.put("/{alias}", response_model=AliasState)
    async def set_alias(
        name: ModelName,
        alias: AliasName,
        target: AliasTarget,
        principal: DataScientist,
    ) -> Any:
        """Point the alias at a version (creating or moving it); recorded in its history."""
        async with pool.acquire() as conn, conn.transaction():
            return await aliases.set_alias(conn, name, alias, target.version, principal.name)

    @api.delete("/{alias}", status_code=204, response_class=Response)
    async def delete_alias(
        name: ModelName,
        alias: AliasName,
        principal: DataScientist,
    ) -> Response:
        async with pool.acquire() as conn, conn.transaction():
            await aliases.delete_alias(conn, name, alias, principal.name)
        return Response(status_code=204)

    @api.get("/{alias}", response_model=AliasState)
    async def resolve_alias(
        _: Viewer,
        name: ModelName,
        alias: AliasName,
        at: At = None,
    ) -> Any:
        """The version the alias points to now, or pointed to at ``at``."""
        async with pool.acquire() as conn:
            return await aliases.resolve(conn, name, alias, as_utc(at))

    @api.get("/{alias}/history", response_model=list[AliasMove])
    async def alias_history(_: Viewer, name: ModelName, alias: AliasName) -> Any:
        async with pool.acquire() as conn:
            return await aliases.alias_history(conn, name, alias)

    return api
