"""Response bodies of the registry's HTTP API (they make its OpenAPI document)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from shared.events.common import ModelMetadata
from shared.events.registry import ModelRegistered


class VersionView(ModelRegistered):
    """A version as announced in ``model.registered``, with what happened to it since."""

    status: str
    registered_at: datetime
    aliases: list[str]


class VersionBrief(BaseModel):
    version: int
    status: str
    registered_at: datetime
    source: str
    aliases: list[str]


class ModelSummary(BaseModel):
    name: str
    latest_version: int
    created_at: datetime
    updated_at: datetime
    metadata: ModelMetadata  # of the latest version


class ModelDetail(ModelSummary):
    aliases: dict[str, int]
    serving_version: int | None
    versions: list[VersionBrief]


class MetricDelta(BaseModel):
    a: float | None
    b: float | None
    delta: float | None


class ComparedVersion(BaseModel):
    version: int
    algorithm: str | None
    params: dict[str, Any]


class Comparison(BaseModel):
    model_name: str
    a: ComparedVersion
    b: ComparedVersion
    metrics: dict[str, MetricDelta]


class AliasTarget(BaseModel):
    version: int = Field(ge=1)


class AliasState(BaseModel):
    model_name: str
    alias: str
    version: int
    since: datetime
    at: datetime | None = None  # the time asked about, for a ?at= query


class AliasMove(BaseModel):
    version: int | None  # None: the alias was deleted
    at: datetime
    actor: str


class Serving(BaseModel):
    model_name: str
    at: datetime
    version: int | None  # the stable version then; None if none served
    since: datetime | None
    event_id: str | None


class LifecycleEntry(BaseModel):
    event_id: str
    topic: str
    status: str | None  # the version's status this event set, if any
    time: datetime
    correlation_id: str
    causation_id: str | None
    source: str
    data: dict[str, Any]


class LifecycleHistory(BaseModel):
    model_name: str
    version: int
    status: str
    since: datetime | None
    events: list[LifecycleEntry]
