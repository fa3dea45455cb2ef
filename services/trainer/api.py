"""HTTP routes of the trainer: ask for a training, follow its job."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Query
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from services.trainer import submission
from services.trainer.store import job_queries
from shared.bus.unit_of_work import Transactions
from shared.errors import InvalidInput, NotFound, describe_validation
from shared.events.training import TrainingRequested
from shared.http.auth import DataScientist, Principal, Viewer

JobStatus = Literal["queued", "running", "succeeded", "failed"]


def parse_request(body: dict[str, Any], principal: Principal) -> TrainingRequested:
    """A request from an HTTP body: ``request_id`` defaults to a fresh one (send your own
    to make retries idempotent), ``metadata.owner`` to the caller."""
    body = {"request_id": uuid.uuid4().hex, **body}
    metadata = body.get("metadata")
    if isinstance(metadata, dict) and not metadata.get("owner"):
        body["metadata"] = {**metadata, "owner": principal.name}
    elif metadata is None:
        body["metadata"] = {"owner": principal.name}
    try:
        request = TrainingRequested.model_validate(body)
    except ValidationError as exc:
        problems = describe_validation(exc, root="(body)")
        raise InvalidInput(f"invalid training request: {problems}") from exc
    _check_feasible(request)
    return request


def _check_feasible(request: TrainingRequested) -> None:
    """Refuse now what the job would refuse later (metric, algorithms, hyperparameters)."""
    from services.trainer.training.candidates import resolve
    from services.trainer.training.errors import RequestError
    from services.trainer.training.metrics import resolve_metric

    try:
        resolve_metric(request.metric, request.task)
        resolve(request.candidates, request.task)
    except RequestError as exc:
        raise InvalidInput(str(exc)) from exc


def router(transactions: Transactions) -> APIRouter:
    routes = APIRouter(prefix="/v1", tags=["trainer"])
    pool = transactions.pool

    @routes.post("/training-requests", status_code=202)
    async def request_training(
        body: Annotated[dict[str, Any], Body()], principal: DataScientist
    ) -> JSONResponse:
        job, created = await submission.submit(transactions, parse_request(body, principal))
        return JSONResponse(job, status_code=202 if created else 200)

    @routes.get("/jobs/{job_id}")
    async def get_job(job_id: str, principal: Viewer) -> dict[str, Any]:
        async with pool.acquire() as conn:
            job = await job_queries.get(conn, job_id)
        if job is None:
            raise NotFound(f"no training job {job_id!r}")
        return job

    @routes.get("/jobs")
    async def list_jobs(
        principal: Viewer,
        model: str | None = None,
        status: JobStatus | None = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
    ) -> dict[str, Any]:
        async with pool.acquire() as conn:
            return {"jobs": await job_queries.find(conn, model=model, status=status, limit=limit)}

    return routes
