"""Routes for reading models and versions, and downloading artifacts."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import asyncpg
from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse

from services.registry.api.params import ModelName, Version
from services.registry.api.schemas import Comparison, ModelDetail, ModelSummary, VersionView
from services.registry.store import catalog, versions
from shared.http.auth import Viewer
from shared.http.params import VersionQuery
from shared.store.artifacts import ArtifactStore

CHUNK = 1024 * 1024


def router(pool: asyncpg.Pool, artifacts: ArtifactStore) -> APIRouter:
    api = APIRouter(tags=["models"])

    @api.get("", response_model=list[ModelSummary])
    async def search_models(
        _: Viewer,
        name: str | None = Query(None, description="part of the model name"),
        tag: str | None = Query(None, description="a tag key, or key=value"),
        owner: str | None = None,
        status: str | None = Query(None, description="a version with this lifecycle status"),
        limit: int = Query(100, ge=1, le=1000),
    ) -> Any:
        query = catalog.ModelQuery(name, tag, owner, status, limit)
        async with pool.acquire() as conn:
            return await catalog.search(conn, query)

    @api.get("/{name}", response_model=ModelDetail)
    async def get_model(_: Viewer, name: ModelName) -> Any:
        async with pool.acquire() as conn:
            return await catalog.get_model(conn, name)

    @api.get("/{name}/versions", response_model=list[VersionView])
    async def list_versions(_: Viewer, name: ModelName) -> Any:
        async with pool.acquire() as conn:
            return await versions.list_versions(conn, name)

    @api.get("/{name}/versions/{version}", response_model=VersionView)
    async def get_version(_: Viewer, name: ModelName, version: Version) -> Any:
        async with pool.acquire() as conn:
            return await versions.get_version(conn, name, version)

    @api.get(
        "/{name}/versions/{version}/artifact",
        response_class=StreamingResponse,
        responses={200: {"content": {"application/onnx": {}}}},
    )
    async def download_artifact(_: Viewer, name: ModelName, version: Version) -> StreamingResponse:
        """The ONNX bytes, verified against the registered digest before the first byte."""
        async with pool.acquire() as conn:
            registered = await versions.get_registered(conn, name, version)
        data = await artifacts.get(registered.artifact)
        digest = registered.artifact.sha256
        headers = {
            "Content-Length": str(len(data)),
            "X-Content-SHA256": digest,
            "Digest": "sha-256=" + base64.b64encode(bytes.fromhex(digest)).decode(),
            "Content-Disposition": f'attachment; filename="{name}-{version}.onnx"',
        }
        return StreamingResponse(
            _chunks(data), media_type=registered.artifact.media_type, headers=headers
        )

    @api.get("/{name}/compare", response_model=Comparison)
    async def compare_versions(
        _: Viewer,
        name: ModelName,
        a: VersionQuery,
        b: VersionQuery,
    ) -> Any:
        async with pool.acquire() as conn:
            return await catalog.compare(conn, name, a, b)

    return api


def _chunks(data: bytes) -> Iterator[bytes]:
    view = memoryview(data)
    for start in range(0, len(view), CHUNK):
        yield bytes(view[start : start + CHUNK])
