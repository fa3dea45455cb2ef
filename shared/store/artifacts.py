"""Content-addressed artifact storage: bytes are named by their SHA-256 and checked on every read.

Two backends behind one interface: a directory (``file://``, the embedded default) and
Postgres (``pg://artifacts/<sha256>``, for services on different hosts). Writing the same
bytes twice stores them once. A reader never trusts stored bytes: :meth:`ArtifactStore.get`
recomputes the digest and raises :class:`ArtifactCorrupt` on a mismatch. A store reads
only its own URIs (:meth:`ArtifactStore.owns`); claim checks naming anything else are read,
if at all, through :class:`shared.store.sources.ArtifactSources`.
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

from shared.errors import ArtifactCorrupt, NotFound
from shared.events.common import ArtifactRef

PG_SCHEME = "pg"


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def verify(data: bytes, ref: ArtifactRef) -> bytes:
    """Return ``data`` if it is what ``ref`` announced, else raise :class:`ArtifactCorrupt`."""
    if len(data) != ref.size or sha256_hex(data) != ref.sha256:
        raise mismatch(ref)
    return data


def mismatch(ref: ArtifactRef) -> ArtifactCorrupt:
    """The error for bytes that are not what ``ref`` announced.

    It never says which of size and digest differs, nor their real values: bytes read on a
    sender's behalf must not leak through the error, not even one number at a time.
    """
    return ArtifactCorrupt(
        f"artifact {_shown(ref.uri)} does not match its claim check: its size or sha256 "
        "differs from the announced one"
    )


def _shown(uri: str) -> str:
    return uri if len(uri) <= 200 else uri[:200] + "..."


class ArtifactStore(Protocol):
    async def put(self, data: bytes, media_type: str = ...) -> ArtifactRef: ...

    async def get(self, ref: ArtifactRef) -> bytes:
        """The bytes of one of this store's own URIs, verified; :class:`NotFound` otherwise."""
        ...

    def owns(self, uri: str) -> bool:
        """Whether ``uri`` is a name this store gives to what it holds (no I/O)."""
        ...


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

    def owns(self, uri: str) -> bool:
        parsed = urlparse(uri)
        if parsed.scheme != "file" or parsed.netloc not in ("", "localhost"):
            return False
        path = Path(os.path.normpath(unquote(parsed.path)))
        return len(path.name) == 64 and path == self._path(path.name)

    async def get(self, ref: ArtifactRef) -> bytes:
        # Only a file of the store's own tree: a reference can never make the store open a
        # path of its choosing. At most one byte more than announced is read.
        if not self.owns(ref.uri):
            raise NotFound(f"artifact {_shown(ref.uri)} is not in this store")
        return verify(await asyncio.to_thread(_read_file, _file_path(ref.uri), ref.size + 1), ref)


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


def _read_file(path: Path, limit: int) -> bytes:
    try:
        with path.open("rb") as stored:
            return stored.read(limit)
    except FileNotFoundError as exc:
        raise NotFound(f"artifact {path.name} is not in this store") from exc


def _file_path(uri: str) -> Path:
    return Path(os.path.normpath(unquote(urlparse(uri).path)))


# The table, inside an existing ``artifacts`` schema (also run by shared.store.roles).
BLOBS_DDL = """
CREATE TABLE IF NOT EXISTS artifacts.blobs (
    sha256 text PRIMARY KEY, size bigint NOT NULL, media_type text NOT NULL,
    data bytea NOT NULL, created_at timestamptz NOT NULL DEFAULT now()
);
"""


class PostgresArtifactStore:
    """Artifacts in ``artifacts.blobs``: a storage component of its own, like a bucket."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def ensure_schema(self) -> None:
        """Create the table if it is missing (where one role owns everything); a provisioned
        database has it (:mod:`shared.store.roles`), and services may not create schemas."""
        async with self.pool.acquire() as conn:
            if await conn.fetchval("SELECT to_regclass('artifacts.blobs') IS NOT NULL"):
                return
            await conn.execute("SELECT pg_advisory_lock(hashtext('artifacts-schema'))")
            try:
                await conn.execute("CREATE SCHEMA IF NOT EXISTS artifacts;" + BLOBS_DDL)
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

    def owns(self, uri: str) -> bool:
        parsed = urlparse(uri)
        return parsed.scheme == PG_SCHEME and parsed.netloc == "artifacts"

    async def get(self, ref: ArtifactRef) -> bytes:
        digest = urlparse(ref.uri).path.strip("/")
        if not self.owns(ref.uri):
            raise NotFound(f"artifact {_shown(ref.uri)} is not in this store")
        data = await self.pool.fetchval(
            "SELECT data FROM artifacts.blobs WHERE sha256 = $1", digest
        )
        if data is None:
            raise NotFound(f"artifact {_shown(ref.uri)} is not in this store")
        return verify(bytes(data), ref)


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
