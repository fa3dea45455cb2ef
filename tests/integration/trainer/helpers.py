"""Asking the trainer for work in tests, and reading what became of it."""

from __future__ import annotations

import hashlib
import uuid
from pathlib import Path
from typing import Any

import asyncpg

from shared.events.common import ArtifactRef
from shared.events.envelope import Event
from shared.events.training import DatasetSpec, TrainingRequested
from tests.support.bus import collect

# A quick search for tests about the job machinery rather than model selection.
QUICK = [{"algorithm": "logistic_regression", "search_space": {"C": [1.0]}}]


async def abandon_jobs_of(database_url: str, unique: str) -> None:
    """Fail what a (failed) test left unfinished, so that the next test's trainer does not
    spend its time on it: tests share the trainer's schema and consumer group. Only the
    test's own models (named with its ``unique`` suffix) are touched."""
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute(
            "UPDATE trainer.jobs SET status = 'failed', failure_reason = 'abandoned by a test'"
            " WHERE status IN ('queued', 'running') AND model_name LIKE '%-' || $1",
            unique,
        )
    finally:
        await conn.close()


async def jobs_of(database_url: str, model: str) -> list[dict[str, Any]]:
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch(
            "SELECT * FROM trainer.jobs WHERE model_name = $1 ORDER BY created_at", model
        )
        return [dict(r) for r in rows]
    finally:
        await conn.close()


def request(model: str, dataset: DatasetSpec | str, **fields: Any) -> TrainingRequested:
    spec = DatasetSpec(builtin=dataset) if isinstance(dataset, str) else dataset
    fields.setdefault("task", "classification")
    fields.setdefault("request_id", uuid.uuid4().hex)
    return TrainingRequested(model_name=model, dataset=spec, **fields)


def csv_dataset(path: Path, text: str, **spec: Any) -> DatasetSpec:
    path.write_text(text)
    data = path.read_bytes()
    ref = ArtifactRef(
        uri=path.as_uri(),
        sha256=hashlib.sha256(data).hexdigest(),
        size=len(data),
        media_type="text/csv",
    )
    return DatasetSpec(artifact=ref, format="csv", **spec)


async def outcomes(
    bootstrap: str, topic: str, request_id: str, *, count: int = 1, timeout: float = 90.0
) -> list[Event[Any]]:
    """The ``topic`` events about ``request_id``, once there are ``count`` of them."""
    return await collect(
        bootstrap,
        topic,
        until=lambda found: len(found) >= count,
        where=lambda e: e.data.request_id == request_id,
        timeout=timeout,
    )
