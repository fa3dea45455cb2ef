"""The artifact store contract, honoured by the directory store and by the unit-test fake."""

from __future__ import annotations

import asyncio
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest

from shared.events.common import ArtifactRef
from shared.store.artifacts import ArtifactStore, FileArtifactStore
from tests.support.artifact_contract import ArtifactStoreContract, flip_first_byte
from tests.unit.registry.fakes import FakeArtifactStore


class TestDirectoryStore(ArtifactStoreContract):
    @pytest.fixture
    def artifacts(self, tmp_path: Path) -> FileArtifactStore:
        return FileArtifactStore(tmp_path / "artifacts")

    async def corrupt(self, artifacts: ArtifactStore, ref: ArtifactRef) -> None:
        await asyncio.to_thread(_flip_file, Path(unquote(urlparse(ref.uri).path)))


class TestFakeStore(ArtifactStoreContract):
    @pytest.fixture
    def artifacts(self) -> FakeArtifactStore:
        return FakeArtifactStore()

    async def corrupt(self, artifacts: ArtifactStore, ref: ArtifactRef) -> None:
        assert isinstance(artifacts, FakeArtifactStore)
        artifacts.blobs[ref.sha256] = flip_first_byte(artifacts.blobs[ref.sha256])


def _flip_file(path: Path) -> None:
    path.write_bytes(flip_first_byte(path.read_bytes()))
