"""In-memory stand-ins for the registry's dependencies."""

from __future__ import annotations

from shared.errors import NotFound
from shared.events.common import ArtifactRef
from shared.store.artifacts import sha256_hex, verify


class FakeArtifactStore:
    """Content-addressed like the real stores, with ``pg://`` references so ``fetch`` uses it.

    Held to the same contract as they are (:mod:`tests.support.artifact_contract`).
    """

    def __init__(self) -> None:
        self.blobs: dict[str, bytes] = {}

    async def put(self, data: bytes, media_type: str = "application/octet-stream") -> ArtifactRef:
        digest = sha256_hex(data)
        self.blobs.setdefault(digest, data)  # like the real stores: the first copy stays
        return ArtifactRef(uri=f"pg://artifacts/{digest}", sha256=digest, size=len(data),
                           media_type=media_type)  # fmt: skip

    def owns(self, uri: str) -> bool:
        return uri.startswith("pg://artifacts/")

    async def get(self, ref: ArtifactRef) -> bytes:
        data = self.blobs.get(ref.uri.rsplit("/", 1)[-1])
        if data is None:
            raise NotFound(f"artifact {ref.uri} is not in the store")
        return verify(data, ref)
