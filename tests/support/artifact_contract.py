"""What every artifact store promises (:class:`shared.store.artifacts.ArtifactStore`).

One abstract test case, run against each backend: the directory store and the fake in
``tests/unit``, the Postgres store in ``tests/integration``. A backend's test class
inherits :class:`ArtifactStoreContract`, provides the ``artifacts`` fixture and says how
to damage stored bytes behind the store's back (:meth:`corrupt`); pytest collects the
subclass (its name starts with ``Test``), never this base.

The promises: bytes are named by their SHA-256 and size; writing the same bytes again
(even concurrently) names them the same way; a read returns exactly what was written and
verifies it first, so damaged bytes, or a reference announcing other bytes, raise
:class:`ArtifactCorrupt`, and bytes never written raise :class:`NotFound`; a reference
from ``put`` is a claim check :func:`fetch` can load.
"""

from __future__ import annotations

import asyncio
import os
from typing import ClassVar

import pytest

from shared.errors import ArtifactCorrupt, NotFound
from shared.events.common import ArtifactRef
from shared.store.artifacts import ArtifactStore, sha256_hex
from shared.store.sources import ArtifactSources


def unique_bytes(size: int = 64) -> bytes:
    """Bytes no other test wrote: a shared backend (one Postgres schema) stays independent."""
    return os.urandom(size)


def flip_first_byte(data: bytes) -> bytes:
    """Other bytes of the same size: damage that only the digest can notice."""
    return bytes([data[0] ^ 0xFF]) + data[1:]


class ArtifactStoreContract:
    # Bytes larger than any one read or write buffer, to catch a truncating backend.
    LARGE: ClassVar[int] = 3 * 1024 * 1024 + 7

    async def corrupt(self, artifacts: ArtifactStore, ref: ArtifactRef) -> None:
        """Change the stored bytes of ``ref`` without going through the store."""
        raise NotImplementedError

    async def test_put_names_bytes_by_digest_and_size(self, artifacts: ArtifactStore) -> None:
        data = unique_bytes()
        ref = await artifacts.put(data, "application/onnx")
        assert (ref.sha256, ref.size) == (sha256_hex(data), len(data))
        assert ref.media_type == "application/onnx"
        assert ref.sha256 in ref.uri
        default = await artifacts.put(unique_bytes())
        assert default.media_type == "application/octet-stream"

    async def test_get_returns_exactly_what_was_put(self, artifacts: ArtifactStore) -> None:
        for data in (unique_bytes(), b"", unique_bytes(self.LARGE)):
            assert await artifacts.get(await artifacts.put(data)) == data

    async def test_the_same_bytes_are_named_once(self, artifacts: ArtifactStore) -> None:
        data = unique_bytes()
        first = await artifacts.put(data)
        again = await artifacts.put(data)
        assert again == first
        together = await asyncio.gather(*(artifacts.put(data) for _ in range(5)))
        assert set(together) == {first}
        assert await artifacts.get(first) == data

    async def test_bytes_never_written_are_not_found(self, artifacts: ArtifactStore) -> None:
        ref = await artifacts.put(unique_bytes())
        missing = sha256_hex(unique_bytes())
        uri = ref.uri.replace(ref.sha256, missing)
        absent = ref.model_copy(update={"uri": uri, "sha256": missing})
        with pytest.raises(NotFound):
            await artifacts.get(absent)

    async def test_damaged_bytes_are_detected(self, artifacts: ArtifactStore) -> None:
        ref = await artifacts.put(unique_bytes())
        await self.corrupt(artifacts, ref)
        with pytest.raises(ArtifactCorrupt):
            await artifacts.get(ref)

    async def test_a_reference_announcing_other_bytes_is_refused(
        self, artifacts: ArtifactStore
    ) -> None:
        ref = await artifacts.put(unique_bytes())
        other_digest = ref.model_copy(update={"sha256": sha256_hex(unique_bytes())})
        other_size = ref.model_copy(update={"size": ref.size + 1})
        for wrong in (other_digest, other_size):
            with pytest.raises(ArtifactCorrupt):
                await artifacts.get(wrong)

    async def test_a_reference_is_a_claim_check(self, artifacts: ArtifactStore) -> None:
        data = unique_bytes()
        ref = await artifacts.put(data)
        sources = ArtifactSources(artifacts)  # the store's own URIs need no configured source
        assert await sources.fetch(ref, max_bytes=len(data)) == data
        await self.corrupt(artifacts, ref)
        with pytest.raises(ArtifactCorrupt):
            await sources.fetch(ref, max_bytes=len(data))
