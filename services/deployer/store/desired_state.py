"""The desired-state rows as values, and reading them.

``versions`` says which approved versions exist and whether each may serve; ``routes``
says, per model, which of them answer traffic. Both are shared by every replica.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg
import orjson

from shared.events.common import ArtifactRef, DeploymentStrategy

# Versions that must not answer traffic, with a clear reason rather than a 404.
STOPPED = frozenset({"suspended", "retired"})


@dataclass(frozen=True)
class VersionRecord:
    model_name: str
    version: int
    approval_id: str
    approved_at: datetime
    approval_seq: int
    artifact: ArtifactRef
    strategy: DeploymentStrategy
    redact_fields: tuple[str, ...]
    status: str
    reason: str | None


@dataclass(frozen=True)
class RouteRecord:
    model_name: str
    stable_version: int | None
    previous_version: int | None
    candidate_version: int | None
    candidate_mode: str | None
    canary_weight: float
    sticky_header: str | None
    last_seq: int
    revision: int

    @property
    def versions(self) -> set[int]:
        """Versions this route may send traffic to or restore instantly."""
        named = (self.stable_version, self.candidate_version, self.previous_version)
        return {v for v in named if v is not None}


@dataclass(frozen=True)
class DesiredState:
    routes: dict[str, RouteRecord]
    versions: dict[tuple[str, int], VersionRecord]

    def pending(self) -> list[VersionRecord]:
        return sorted(
            (v for v in self.versions.values() if v.status == "pending"),
            key=lambda v: v.approval_seq,
        )


def version_record(row: asyncpg.Record) -> VersionRecord:
    return VersionRecord(
        **_columns(VersionRecord, row)
        | {
            "artifact": ArtifactRef.model_validate(_json(row["artifact"])),
            "strategy": DeploymentStrategy.model_validate(_json(row["strategy"])),
            "redact_fields": tuple(row["redact_fields"]),
        }
    )


def route_record(row: asyncpg.Record) -> RouteRecord:
    return RouteRecord(**_columns(RouteRecord, row))


def _columns(record: Any, row: asyncpg.Record) -> dict[str, Any]:
    """The row's value for each field of the dataclass ``record``: columns carry the
    fields' names (the tables have more columns, such as ``updated_at``)."""
    return {f.name: row[f.name] for f in dataclasses.fields(record)}


def _json(value: Any) -> Any:
    return orjson.loads(value) if isinstance(value, str | bytes) else value


async def load_desired_state(pool: asyncpg.Pool) -> DesiredState:
    """Every route, the versions routes name, pending ones, and withdrawn ones (a request
    to a suspended version gets a 503 saying so, to a retired one a 404 saying so).

    Read in one snapshot: a transition committing between the two queries would otherwise
    give routes from before it and versions from after it.
    """
    async with pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
        route_rows = await conn.fetch("SELECT * FROM routes")
        version_rows = await conn.fetch(
            "SELECT v.* FROM versions v"
            " WHERE v.status IN ('pending', 'suspended', 'retired') OR EXISTS ("
            " SELECT 1 FROM routes r WHERE r.model_name = v.model_name"
            " AND v.version IN (r.stable_version, r.candidate_version, r.previous_version))"
        )
    versions = [version_record(r) for r in version_rows]
    return DesiredState(
        routes={r["model_name"]: route_record(r) for r in route_rows},
        versions={(v.model_name, v.version): v for v in versions},
    )
