"""Content-addressed artifact storage: bytes are named by their SHA-256 and checked on every read.

Two backends behind one interface: a directory (``file://``, the embedded default) and
Postgres (``pg://artifacts/<sha256>``, for services on different hosts). Writing the same
bytes twice stores them once. A reader never trusts stored bytes: :meth:`ArtifactStore.get`
recomputes the digest and raises :class:`ArtifactCorrupt` on a mismatch.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import tempfile
from pathlib import Path
from typing import Protocol
from urllib.parse import unquote, urlparse

import asyncpg
import httpx

from shared.errors import ArtifactCorrupt, InvalidInput, NotFound, PayloadTooLarge
from shared.events.common import ArtifactRef

PG_SCHEME = "pg"


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def verify(data: bytes, ref: ArtifactRef) -> bytes:
    """Return ``data`` if it is what ``ref`` announced, else raise :class:`ArtifactCorrupt`."""
    if len(data) != ref.size:
        raise ArtifactCorrupt(f"artifact {ref.uri} has {len(data)} bytes, announced {ref.size}")
    digest = sha256_hex(data)
    if digest != ref.sha256:
        raise ArtifactCorrupt(
            f"artifact {ref.uri} has sha256 {digest}, announced {ref.sha256}",
            detail={"expected": ref.sha256, "actual": digest},
        )
    return data


class ArtifactStore(Protocol):
    async def put(self, data: bytes, media_type: str = ...) -> ArtifactRef: ...

    async def get(self, ref: ArtifactRef) -> bytes: ...


class FileArtifactStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, digest: str) -> Path:
        return self.root / "sha256" / digest[:2] / digest

    async def put(self, data: bytes, media_type: str = "application/octet-stream") -> ArtifactRef:
        digest = sha256_hex(data)
        path = self._path(digest)
        if not path.exists():
            await asyncio.to_thread(_write_atomically, path, data)
        return ArtifactRef(uri=path.as_uri(), sha256=digest, size=len(data), media_type=media_type)

    async def get(self, ref: ArtifactRef) -> bytes:
        return verify(await asyncio.to_thread(_read_file, _file_path(ref.uri)), ref)


def _write_atomically(path: Path, data: bytes) -> None:
    """Write to a temporary sibling, fsync, rename: a reader never sees half an artifact."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _read_file(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError as exc:
        raise NotFound(f"artifact file {path} does not exist") from exc


def _file_path(uri: str) -> Path:
    return Path(unquote(urlparse(uri).path))


class PostgresArtifactStore:
    """Artifacts in ``artifacts.blobs``: a storage component of its own, like a bucket."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def ensure_schema(self) -> None:
        async with self.pool.acquire() as conn:
            await conn.execute("SELECT pg_advisory_lock(hashtext('artifacts-schema'))")
            try:
                await conn.execute(
                    "CREATE SCHEMA IF NOT EXISTS artifacts;"
                    "CREATE TABLE IF NOT EXISTS artifacts.blobs ("
                    " sha256 text PRIMARY KEY, size bigint NOT NULL, media_type text NOT NULL,"
                    " data bytea NOT NULL, created_at timestamptz NOT NULL DEFAULT now())"
                )
            finally:
                await conn.execute("SELECT pg_advisory_unlock(hashtext('artifacts-schema'))")

    async def put(self, data: bytes, media_type: str = "application/octet-stream") -> ArtifactRef:
        digest = sha256_hex(data)
        await self.pool.execute(
            "INSERT INTO artifacts.blobs (sha256, size, media_type, data) VALUES ($1, $2, $3, $4)"
            " ON CONFLICT (sha256) DO NOTHING",
            digest,
            len(data),
            media_type,
            data,
        )
        return ArtifactRef(
            uri=f"{PG_SCHEME}://artifacts/{digest}",
            sha256=digest,
            size=len(data),
            media_type=media_type,
        )

    async def get(self, ref: ArtifactRef) -> bytes:
        digest = urlparse(ref.uri).path.strip("/")
        data = await self.pool.fetchval(
            "SELECT data FROM artifacts.blobs WHERE sha256 = $1", digest
        )
        if data is None:
            raise NotFound(f"artifact {ref.uri} is not in the store")
        return verify(bytes(data), ref)


async def fetch(ref: ArtifactRef, store: ArtifactStore, *, max_bytes: int) -> bytes:
    """Load an artifact named by a claim check from wherever it lives, digest verified.

    Submitted models may live outside modelbus (``file://`` on a shared volume, ``http(s)://``);
    our own live in ``store``. The announced size is checked against ``max_bytes`` before
    anything is read.
    """
    if ref.size > max_bytes:
        raise PayloadTooLarge(f"artifact is {ref.size} bytes, the limit is {max_bytes}")
    scheme = urlparse(ref.uri).scheme
    if scheme in ("http", "https"):
        async with httpx.AsyncClient(timeout=60) as client:
            response = await client.get(ref.uri)
            if response.status_code == 404:
                raise NotFound(f"artifact {ref.uri} not found")
            response.raise_for_status()
            return verify(response.content, ref)
    if scheme == "file":
        return verify(await asyncio.to_thread(_read_file, _file_path(ref.uri)), ref)
    if scheme == PG_SCHEME:
        return await store.get(ref)
    raise InvalidInput(f"unsupported artifact URI scheme {scheme!r} in {ref.uri}")


async def open_store(url: str, pool: asyncpg.Pool | None = None) -> ArtifactStore:
    """``file:///dir`` or ``postgres`` (needs the service's pool)."""
    if url.startswith("file://"):
        return FileArtifactStore(_file_path(url))
    if url == "postgres":
        if pool is None:
            raise ValueError("the postgres artifact store needs a database pool")
        store = PostgresArtifactStore(pool)
        await store.ensure_schema()
        return store
    raise ValueError(f"unknown artifact store {url!r}: use file:///path or postgres")
