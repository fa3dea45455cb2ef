"""The job table: recording requests, claiming work under a lease, finishing exactly once.

Invariants (see migrations/0001_jobs.sql):

* one job per ``request_id``: :func:`record` is ``INSERT ... ON CONFLICT DO NOTHING``,
  so a request delivered twice, or announced by HTTP and then consumed, is one job;
* :func:`claim` takes the oldest queued job, or a running one whose lease expired (its
  trainer died), ``FOR UPDATE SKIP LOCKED`` so concurrent workers never take the same
  one, and gives it a fresh ``lease_token``. It skips the jobs of a principal that has
  ``per_principal`` jobs running under a live lease already (they wait, queued); claims
  are serialised by an advisory lock so that two trainers cannot both take the last slot;
* :func:`renew` and :func:`finish` only act while the caller's token is the job's token:
  a worker that lost its lease can neither extend it nor finish the job. ``finish``
  returns whether it changed the row; the caller emits the outcome event only then, in
  the same transaction, so a job's outcome is written once however often it runs.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import orjson

from shared.events.envelope import Event, decode, encode
from shared.events.training import TrainingRequested
from shared.store.db import Connection


@dataclass(frozen=True)
class Claim:
    job_id: str
    token: str
    attempts: int
    event: Event[TrainingRequested]  # the training.requested event the job answers

    @property
    def request(self) -> TrainingRequested:
        return self.event.data


async def lock_request(conn: Connection, request_id: str) -> None:
    """Serialise the transactions that decide about one request id (until commit)."""
    await _lock(conn, request_id)


async def lock_principal(conn: Connection, principal: str) -> None:
    """Serialise the transactions that count and add ``principal``'s jobs."""
    await _lock(conn, f"principal:{principal}")


async def lock_retraining(conn: Connection, model: str) -> None:
    """Serialise the transactions that decide whether ``model`` is retrained."""
    await _lock(conn, f"retraining:{model}")


async def _lock(conn: Connection, key: str) -> None:
    # Advisory locks are database-wide: the schema's name keeps the trainer's keys apart
    # from any other service's (and of a second trainer on another schema).
    await conn.execute(
        "SELECT pg_advisory_xact_lock(hashtext(current_schema() || '-req:' || $1))", key
    )


async def record(conn: Connection, event: Event[TrainingRequested], principal: str) -> str | None:
    """Queue a job for the request in ``event``, asked for by ``principal``; the new job's
    id, or None if it exists."""
    request = event.data
    return await conn.fetchval(  # type: ignore[no-any-return]
        "INSERT INTO jobs (id, request_id, model_name, reason, request, request_event,"
        " principal) VALUES ($1, $2, $3, $4, $5::jsonb, $6, $7)"
        " ON CONFLICT (request_id) DO NOTHING RETURNING id",
        uuid.uuid4().hex,
        request.request_id,
        request.model_name,
        request.reason,
        request.model_dump_json(by_alias=True),
        encode(event),
        principal,
    )


def bus_principal(event: Event[TrainingRequested]) -> str:
    """Whom a request consumed from the bus counts against: its ``metadata.owner``, else
    the event's ``source``. Neither is authenticated (the bus carries no identity), so
    this shares out the trainer between well-behaved producers; it is no access control."""
    return event.data.metadata.owner or event.source


async def unfinished_of(conn: Connection, principal: str) -> int:
    """How many of ``principal``'s jobs are queued or running."""
    return await conn.fetchval(  # type: ignore[no-any-return]
        "SELECT count(*) FROM jobs WHERE principal = $1 AND status IN ('queued', 'running')",
        principal,
    )


_CLAIM = """
UPDATE jobs SET status = 'running', attempts = attempts + 1, lease_token = $1,
       lease_expires_at = now() + make_interval(secs => $2), heartbeat_at = now(),
       started_at = coalesce(started_at, now()), progress = 'claimed', progress_fraction = 0
WHERE id = (
    SELECT id FROM jobs j
    WHERE (status = 'queued' OR (status = 'running' AND lease_expires_at < now()))
      AND (SELECT count(*) FROM jobs r
           WHERE r.principal = j.principal AND r.status = 'running'
             AND r.lease_expires_at >= now()) < $3
    ORDER BY created_at
    LIMIT 1
    FOR UPDATE SKIP LOCKED
)
RETURNING id, attempts, request_event
"""


async def claim(conn: Connection, lease_s: float, per_principal: int) -> Claim | None:
    token = uuid.uuid4().hex
    async with conn.transaction():
        await _lock(conn, "claim")
        row = await conn.fetchrow(_CLAIM, token, lease_s, per_principal)
    if row is None:
        return None
    return Claim(row["id"], token, row["attempts"], decode(bytes(row["request_event"])))


async def renew(
    conn: Connection, claim: Claim, lease_s: float, progress: str, fraction: float
) -> bool:
    """Extend the lease and record progress; False if the job is no longer ours."""
    updated = await conn.fetchval(
        "UPDATE jobs SET lease_expires_at = now() + make_interval(secs => $3),"
        " heartbeat_at = now(), progress = $4, progress_fraction = $5"
        " WHERE id = $1 AND lease_token = $2 AND status = 'running' RETURNING true",
        claim.job_id,
        claim.token,
        lease_s,
        progress[:500],
        fraction,
    )
    return bool(updated)


async def finish(
    conn: Connection,
    claim: Claim,
    *,
    succeeded: bool,
    outcome: dict[str, Any],
    failure_reason: str | None = None,
) -> bool:
    """Mark the job succeeded or failed if the caller still holds it; True if it did."""
    updated = await conn.fetchval(
        "UPDATE jobs SET status = $3, outcome = $4::jsonb, failure_reason = $5,"
        " finished_at = now(), lease_token = NULL, lease_expires_at = NULL,"
        " progress = $6, progress_fraction = 1"
        " WHERE id = $1 AND lease_token = $2 AND status = 'running' RETURNING true",
        claim.job_id,
        claim.token,
        "succeeded" if succeeded else "failed",
        orjson.dumps(outcome).decode(),
        failure_reason,
        "succeeded" if succeeded else "failed",
    )
    return bool(updated)


async def release(conn: Connection, claim: Claim) -> None:
    """Give a job back (the trainer is stopping cleanly): queued again, attempt not counted."""
    await conn.execute(
        "UPDATE jobs SET status = 'queued', attempts = attempts - 1, lease_token = NULL,"
        " lease_expires_at = NULL, progress = 'released by a stopping trainer'"
        " WHERE id = $1 AND lease_token = $2 AND status = 'running'",
        claim.job_id,
        claim.token,
    )
