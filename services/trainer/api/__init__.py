"""HTTP routes of the trainer: ask for a training, follow its job."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Query
from fastapi.responses import JSONResponse

from services.trainer import submission
from services.trainer.api.request_body import parse_request
from services.trainer.settings import TrainerSettings
from services.trainer.store import job_queries
from shared.bus.unit_of_work import Transactions
from shared.errors import NotFound
from shared.http.auth import DataScientist, Viewer
from shared.store.sources import ArtifactSources

JobStatus = Literal["queued", "running", "succeeded", "failed"]


def router(
    transactions: Transactions, sources: ArtifactSources, settings: TrainerSettings
) -> APIRouter:
    """``/v1/training-requests`` (ask) and ``/v1/jobs`` (follow); reads use the pool,
    a request is announced and queued in one of ``transactions``; the datasets it names
    must be in ``sources`` and what it asks for within ``settings``' caps (refused before
    the job exists otherwise), and its caller below its job limit (429)."""
    routes = APIRouter(prefix="/v1")
    pool = transactions.pool
    caps = settings.caps()

    @routes.post("/training-requests", status_code=202, tags=["training-requests"])
    async def request_training(
        body: Annotated[dict[str, Any], Body()], principal: DataScientist
    ) -> JSONResponse:
        request = parse_request(body, principal, sources, caps)
        job, created = await submission.submit(
            transactions, request, principal.name, max_jobs=settings.max_jobs_per_principal
        )
        return JSONResponse(job, status_code=202 if created else 200)

    @routes.get("/jobs/{job_id}", tags=["jobs"])
    async def get_job(job_id: str, _: Viewer) -> dict[str, Any]:
        async with pool.acquire() as conn:
            job = await job_queries.get(conn, job_id)
        if job is None:
            raise NotFound(f"no training job {job_id!r}")
        return job

    @routes.get("/jobs", tags=["jobs"])
    async def list_jobs(
        _: Viewer,
        model: str | None = None,
        status: JobStatus | None = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
    ) -> dict[str, Any]:
        async with pool.acquire() as conn:
            return {"jobs": await job_queries.find(conn, model=model, status=status, limit=limit)}

    return routes
