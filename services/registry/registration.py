"""Registering a version: one validated path behind all three doors.

1. :func:`validate` runs every acceptance check off the event loop (CPU work);
2. :func:`record` stores the bytes, numbers the version under the model's row lock and
   emits ``model.registered``, all in the caller's transaction.

A refusal never stores anything (the artifact store is written only after every check
passed) and always tells the submitter: ``model.registration_failed`` plus, for an event,
a dead letter (:func:`register_claimed`), or, for an upload, a 4xx (:func:`register_upload`).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import asyncpg
import structlog

from services.registry.claims import load_claim
from services.registry.domain.candidate import Candidate
from services.registry.domain.refusal import Check, Refusal
from services.registry.domain.validation import inspect_model
from services.registry.settings import RegistrySettings
from services.registry.store import versions
from shared.bus.unit_of_work import UnitOfWork, unit_of_work
from shared.errors import Refused
from shared.events.common import ArtifactRef, ModelSignature
from shared.events.registry import ModelRegistered
from shared.store.artifacts import ArtifactStore, sha256_hex

log = structlog.get_logger(__name__)

SERVICE = "registry"
ONNX_MEDIA_TYPE = "application/onnx"
PROFILE_MEDIA_TYPE = "application/json"


@dataclass(frozen=True)
class Validated:
    candidate: Candidate
    artifact: bytes
    signature: ModelSignature
    profile: bytes | None = None


async def validate(
    candidate: Candidate, artifact: bytes, profile: bytes | None, settings: RegistrySettings
) -> Validated:
    cap = settings.max_artifact_bytes
    if profile is not None and len(profile) > cap:
        raise Refusal.of(
            Check.SIZE, f"reference profile is {len(profile)} bytes, the limit is {cap}"
        )
    signature = await asyncio.to_thread(
        inspect_model, artifact, max_bytes=cap, threads=settings.validation_threads
    )
    return Validated(candidate, artifact, signature, profile)


async def record(
    uow: UnitOfWork, validated: Validated, store: ArtifactStore
) -> tuple[ModelRegistered, bool]:
    """Store, number and announce a validated version; ``(version, False)`` if its origin
    was registered before (nothing is emitted again).

    The parent is the one the producer named, else the version this one succeeds.
    """
    candidate, conn = validated.candidate, uow.conn
    parent = candidate.parent_version
    if parent is not None:
        if not 1 <= parent <= await versions.latest_version(conn, candidate.model_name):
            raise Refusal.of(
                Check.LINEAGE, f"parent version {parent} of {candidate.model_name!r} does not exist"
            )
    artifact = await store.put(validated.artifact, ONNX_MEDIA_TYPE)
    profile = None
    if validated.profile is not None:
        profile = await store.put(validated.profile, PROFILE_MEDIA_TYPE)

    latest = await versions.lock_model(conn, candidate.model_name)
    existing = await versions.find_by_origin(
        conn, candidate.model_name, candidate.source, candidate.origin
    )
    if existing is not None:
        log.info("registration.duplicate", origin=candidate.origin, version=existing.version)
        return existing, False
    registered = candidate.registered(
        version=latest + 1,
        parent_version=parent if parent is not None else (latest or None),
        artifact=artifact,
        signature=validated.signature,
        reference_profile=profile,
    )
    event = await uow.emit(registered, subject=f"{registered.model_name}/{registered.version}")
    await versions.insert_version(conn, registered, origin=candidate.origin, event_id=event.id)
    log.info(
        "registration.accepted",
        model=registered.model_name,
        version=registered.version,
        source=candidate.source,
        sha256=artifact.sha256,
    )
    return registered, True


async def register_claimed(
    uow: UnitOfWork,
    candidate: Candidate,
    artifact_ref: ArtifactRef,
    profile_ref: ArtifactRef | None,
    *,
    store: ArtifactStore,
    settings: RegistrySettings,
) -> None:
    """Register a version announced by claim check (a training result, a submission).

    A refusal raises :class:`Refused` carrying ``model.registration_failed``: the consumer
    dead-letters the event and emits that notice in one transaction, and rolls back what
    this handler wrote, so both happen exactly once and nothing of it is kept.
    """
    cap = settings.max_artifact_bytes
    try:
        artifact = await load_claim(artifact_ref, store, max_bytes=cap)
        profile = None
        if profile_ref is not None:
            profile = await load_claim(profile_ref, store, max_bytes=cap, what="reference profile")
        await record(uow, await validate(candidate, artifact, profile, settings), store)
    except Refusal as refusal:
        raise _refused(candidate, refusal) from refusal


async def register_upload(
    pool: asyncpg.Pool,
    candidate: Candidate,
    artifact: bytes,
    profile: bytes | None,
    *,
    expected_sha256: str | None,
    store: ArtifactStore,
    settings: RegistrySettings,
) -> tuple[ModelRegistered, bool]:
    """Register uploaded bytes; validation runs before a connection is taken."""
    try:
        if expected_sha256 is not None and sha256_hex(artifact) != expected_sha256:
            raise Refusal.of(
                Check.DIGEST,
                f"upload has sha256 {sha256_hex(artifact)}, announced {expected_sha256}",
            )
        validated = await validate(candidate, artifact, profile, settings)
        async with unit_of_work(pool, SERVICE) as uow:
            return await record(uow, validated, store)
    except Refusal as refusal:
        raise await refuse_upload(pool, candidate, refusal) from refusal


async def refuse_upload(pool: asyncpg.Pool, candidate: Candidate, refusal: Refusal) -> Refused:
    """Announce a refused upload; returns the error the caller raises (a 4xx)."""
    async with unit_of_work(pool, SERVICE) as uow:
        await uow.emit(candidate.refused(refusal))
    return _refused(candidate, refusal)


def _refused(candidate: Candidate, refusal: Refusal) -> Refused:
    log.warning(
        "registration.refused",
        model=candidate.model_name,
        source=candidate.source,
        reference=candidate.reference,
        reason=refusal.reason[:500],
    )
    return Refused(
        f"{candidate.model_name} refused: {refusal.reason}",
        notices=[candidate.refused(refusal)],
        status_code=refusal.status_code,
        detail={"failed_checks": [check.value for check in refusal.failures]},
    )
