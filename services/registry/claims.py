"""Loading what a claim check names, where every way it can fail becomes a refusal."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Protocol
from urllib.parse import unquote, urlparse

import httpx

from services.registry.domain.refusal import Check, Refusal
from shared.errors import ArtifactCorrupt, InvalidInput, NotFound, PayloadTooLarge
from shared.events.common import ArtifactRef
from shared.store.artifacts import ArtifactStore, fetch


class ClaimCheck(Protocol):
    """What a door's event names instead of carrying bytes: the model and its profile."""

    @property
    def artifact(self) -> ArtifactRef: ...

    @property
    def reference_profile(self) -> ArtifactRef | None: ...


async def load_claims(
    claim: ClaimCheck, artifacts: ArtifactStore, *, max_bytes: int
) -> tuple[bytes, bytes | None]:
    """The model's bytes and its reference profile's, if the event names one."""
    artifact = await load_claim(claim.artifact, artifacts, max_bytes=max_bytes)
    if claim.reference_profile is None:
        return artifact, None
    profile = await load_claim(
        claim.reference_profile, artifacts, max_bytes=max_bytes, what="reference profile"
    )
    return artifact, profile


async def load_claim(
    ref: ArtifactRef, artifacts: ArtifactStore, *, max_bytes: int, what: str = "artifact"
) -> bytes:
    """The bytes ``ref`` names, digest verified, never more than ``max_bytes`` read.

    The announced size is held against the cap before anything is read; a ``file://``
    claim must also name a regular file no larger than the cap (a device such as
    ``/dev/zero`` would otherwise be read without end).
    """
    try:
        if ref.size <= max_bytes and urlparse(ref.uri).scheme == "file":
            await asyncio.to_thread(_check_local_file, ref, max_bytes)
        return await fetch(ref, artifacts, max_bytes=max_bytes)
    except PayloadTooLarge as exc:
        raise Refusal.of(Check.SIZE, f"{what}: {exc.message}") from exc
    except ArtifactCorrupt as exc:
        raise Refusal.of(Check.DIGEST, f"{what}: {exc.message}") from exc
    except (NotFound, InvalidInput) as exc:
        raise Refusal.of(Check.FETCH, f"{what}: {exc.message}") from exc
    except httpx.HTTPError as exc:
        raise Refusal.of(Check.FETCH, f"{what} at {ref.uri} could not be fetched: {exc}") from exc


def _check_local_file(ref: ArtifactRef, max_bytes: int) -> None:
    path = Path(unquote(urlparse(ref.uri).path))
    if not path.is_file():
        raise NotFound(f"{ref.uri} is not a regular file")
    size = path.stat().st_size
    if size > max_bytes:
        raise PayloadTooLarge(f"{ref.uri} is {size} bytes, the limit is {max_bytes}")
