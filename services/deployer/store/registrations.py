"""What the registry registered, and approvals waiting for it.

The deployer never trusts the artifact an approval names: it serves the one the registry
registered for that version (``model.registered``, which it consumes), and only if the
approval's digest is that one. The two come from different producers on different topics,
so either may arrive first; an approval whose registration has not arrived yet waits as
``awaiting_registration`` and is never loaded until it does.

Locking: an approval and a registration of one version arrive on two topics, which the
consumer applies concurrently in separate transactions; each would miss the other's
uncommitted row and the approval would wait for good. Both therefore take
:func:`lock_version` first, so the second sees what the first committed.

The first registration seen for a version is the one kept; a second with another digest
marks it ``conflicting`` and nothing more of that version is loaded (only the registry
may write ``model.registered`` under the broker's ACLs: a conflict means someone else did).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from shared.events.common import ArtifactRef
from shared.store.db import Connection

AWAITING = "awaiting_registration"


@dataclass(frozen=True)
class Registration:
    artifact: ArtifactRef
    conflicting: bool


async def lock_version(conn: Connection, model: str, version: int) -> None:
    """Serialise the approval and the registration of one version (transaction-scoped)."""
    await conn.execute(
        "SELECT pg_advisory_xact_lock(hashtext('deployer.version'), hashtext($1))",
        f"{model}/{version}",
    )


async def record_registration(
    conn: Connection, model: str, version: int, artifact: ArtifactRef
) -> Registration:
    """Keep the first registration of a version; mark it conflicting if this one differs."""
    await lock_version(conn, model, version)
    await conn.execute(
        "INSERT INTO registrations AS r (model_name, version, artifact) VALUES ($1, $2, $3)"
        " ON CONFLICT (model_name, version) DO UPDATE SET conflicting = true"
        " WHERE r.artifact->>'sha256' <> EXCLUDED.artifact->>'sha256'",
        model,
        version,
        orjson.dumps(artifact.model_dump(mode="json")).decode(),
    )
    found = await registration(conn, model, version)
    assert found is not None
    return found


async def registration(conn: Connection, model: str, version: int) -> Registration | None:
    row = await conn.fetchrow(
        "SELECT artifact, conflicting FROM registrations WHERE model_name = $1 AND version = $2",
        model,
        version,
    )
    if row is None:
        return None
    return Registration(ArtifactRef.model_validate(_json(row["artifact"])), row["conflicting"])


def mismatch(approved: ArtifactRef, registered: Registration) -> str | None:
    """Why an approval of ``approved`` may not load the registered artifact, or ``None``."""
    if registered.conflicting:
        return "the registry's registration of this version is contested (two digests seen)"
    if approved.sha256 != registered.artifact.sha256:
        return "the approved artifact digest is not the one the registry registered"
    return None


async def release_awaiting(
    conn: Connection, model: str, version: int, registered: Registration
) -> tuple[bool, str | None]:
    """An approval that waited for this registration: ``(True, None)`` if it is now
    pending (to load), ``(True, reason)`` if it may not load, ``(False, None)`` if none
    waited."""
    row = await conn.fetchrow(
        "SELECT artifact FROM versions WHERE model_name = $1 AND version = $2 AND status = $3"
        " FOR UPDATE",
        model,
        version,
        AWAITING,
    )
    if row is None:
        return False, None
    approved = ArtifactRef.model_validate(_json(row["artifact"]))
    refused = mismatch(approved, registered)
    await conn.execute(
        "UPDATE versions SET status = $3, reason = $4, artifact = $5, updated_at = now()"
        " WHERE model_name = $1 AND version = $2",
        model,
        version,
        "failed" if refused else "pending",
        refused,
        orjson.dumps(registered.artifact.model_dump(mode="json")).decode(),
    )
    return True, refused


def _json(value: Any) -> Any:
    return orjson.loads(value) if isinstance(value, str | bytes) else value
