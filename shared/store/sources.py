"""Where the bytes a claim check names may be read from, and reading them within bounds.

A URI that arrives from outside (an event on the bus, an HTTP request, a profile inside an
upload) asks a service to read something on its sender's behalf. :class:`ArtifactSources`
is the one place that decides, before anything is opened:

* the artifact store's own URIs (``pg://artifacts/<sha256>``, or a file in the directory
  store's ``sha256/`` tree) are always readable;
* ``file://`` only inside a configured folder (``MODELBUS_ARTIFACT_SOURCE_DIRS``), judged
  first on the normalised path and then on the resolved one, and opened one component at
  a time without following a symbolic link, so a link swapped in after the check cannot
  lead out of the folder either; only a regular file is read;
* ``http(s)://`` only from a configured host (``MODELBUS_ARTIFACT_SOURCE_HOSTS``), without
  credentials in the URI, without following redirects, streamed under a byte cap (the
  announced size) and one deadline for the whole fetch;
* anything else is refused with :class:`SourceRefused`, whose message names the rule.

What was read is never echoed: a mismatch says that the size or digest differs, never
which, nor the real values, nor any of the bytes (a refusal names only what the sender
sent). The announced size is held against the caller's cap before anything is read, and
no more than the announced size plus one byte is ever read.
"""

from __future__ import annotations

import asyncio
import errno
import hashlib
import os
import stat
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urlparse

import httpx

from shared.errors import InvalidInput, NotFound, PayloadTooLarge, Unavailable
from shared.events.common import ArtifactRef
from shared.settings import Settings
from shared.store.artifacts import ArtifactStore, mismatch

DIRS_SETTING = "MODELBUS_ARTIFACT_SOURCE_DIRS"
HOSTS_SETTING = "MODELBUS_ARTIFACT_SOURCE_HOSTS"
_DIRECTORY = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
# O_NONBLOCK: opening a FIFO must not wait for a writer (it is refused right after, by fstat).
_FILE = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC


class SourceRefused(InvalidInput):
    """A URI that names a place this service does not read from; nothing was opened."""

    status_code = 422
    code = "source_refused"


class SourceUnavailable(Unavailable):
    """An allowed http(s) source could not be reached, or not within the deadline."""


@dataclass(frozen=True)
class ArtifactSources:
    """The rules for reading claim checks, bound to the service's artifact store."""

    store: ArtifactStore
    dirs: Sequence[Path] = ()
    hosts: Sequence[str] = ()
    http_deadline_s: float = 60.0
    _roots: tuple[Path, ...] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        # Resolved once: a configured folder may itself be reached through a link (/tmp).
        roots = tuple(Path(os.path.realpath(d)) for d in self.dirs)
        object.__setattr__(self, "_roots", roots)

    @classmethod
    def of(cls, settings: Settings, store: ArtifactStore) -> ArtifactSources:
        return cls(
            store,
            dirs=settings.artifact_source_dirs,
            hosts=settings.artifact_source_hosts,
            http_deadline_s=settings.artifact_fetch_timeout_s,
        )

    def check(self, ref: ArtifactRef) -> None:
        """Refuse ``ref`` now if no rule allows reading it (no I/O beyond resolving a path)."""
        self._reader(ref)

    async def fetch(self, ref: ArtifactRef, *, max_bytes: int) -> bytes:
        """The bytes ``ref`` names, digest verified, never more than ``ref.size + 1`` read."""
        if ref.size > max_bytes:
            raise PayloadTooLarge(
                f"artifact is announced at {ref.size} bytes; the limit is {max_bytes}"
            )
        return await self._reader(ref)()

    def _reader(self, ref: ArtifactRef) -> Callable[[], Awaitable[bytes]]:
        """How ``ref`` is read, decided by the rules alone; raises :class:`SourceRefused`."""
        uri = ref.uri
        if self.store.owns(uri):
            return lambda: self.store.get(ref)
        scheme = urlparse(uri).scheme.lower()
        if scheme == "file":
            root, relative = self._allowed_path(uri)

            async def read_file() -> bytes:
                return _verified(ref, await asyncio.to_thread(_read_beneath, ref, root, relative))

            return read_file
        if scheme in ("http", "https"):
            self._check_host(uri)

            async def read_url() -> bytes:
                return _verified(ref, await self._fetch_http(ref))

            return read_url
        raise SourceRefused(
            f"artifact {_shown(uri)} is refused: claim checks name this artifact store, a file "
            f"in a folder of {DIRS_SETTING} or an http(s) URL on a host of {HOSTS_SETTING}"
        )

    def _allowed_path(self, uri: str) -> tuple[Path, PurePosixPath]:
        parsed = urlparse(uri)
        if parsed.netloc not in ("", "localhost"):
            raise SourceRefused(
                f"artifact {_shown(uri)} is refused: a file:// URI names a local path, not a host"
            )
        raw = unquote(parsed.path)
        if "\x00" in raw or not raw.startswith("/"):
            raise SourceRefused(
                f"artifact {_shown(uri)} is refused: a file:// URI needs an absolute path"
            )
        lexical = Path(os.path.normpath(raw))
        if not any(lexical.is_relative_to(r) for r in (*self._roots, *map(Path, self.dirs))):
            raise SourceRefused(
                f"artifact {_shown(uri)} is refused: file:// URIs are read only inside the "
                f"folders of {DIRS_SETTING}{_listed(self.dirs)}"
            )
        resolved = Path(os.path.realpath(lexical))
        for root in self._roots:
            if resolved.is_relative_to(root) and resolved != root:
                return root, PurePosixPath(resolved.relative_to(root))
        raise SourceRefused(
            f"artifact {_shown(uri)} is refused: its path leads (through a symbolic link) "
            f"outside the folders of {DIRS_SETTING}"
        )

    def _check_host(self, uri: str) -> None:
        parsed = urlparse(uri)
        if parsed.username is not None or parsed.password is not None:
            raise SourceRefused(
                "artifact URL is refused: credentials in a URL would travel on the bus and "
                "into logs; let the host authorise modelbus another way"
            )
        host = (parsed.hostname or "").lower()
        try:
            port = parsed.port
        except ValueError as exc:
            raise SourceRefused(
                f"artifact {_shown(uri)} is refused: its port is not a number"
            ) from exc
        if not any(_host_matches(allowed, host, port) for allowed in self.hosts):
            raise SourceRefused(
                f"artifact {_shown(uri)} is refused: http(s) artifacts are fetched only from "
                f"the hosts of {HOSTS_SETTING}{_listed(self.hosts)}"
            )

    async def _fetch_http(self, ref: ArtifactRef) -> bytes:
        """GET without redirects, identity encoding, at most ``ref.size + 1`` bytes, one deadline."""
        shown = _shown(ref.uri)
        try:
            async with asyncio.timeout(self.http_deadline_s):
                async with (
                    httpx.AsyncClient(
                        timeout=self.http_deadline_s, follow_redirects=False
                    ) as client,
                    client.stream(
                        "GET", ref.uri, headers={"Accept-Encoding": "identity"}
                    ) as response,
                ):
                    return await _bounded_body(response, ref, shown)
        except TimeoutError as exc:
            raise SourceUnavailable(
                f"artifact {shown} was not fetched within {self.http_deadline_s:g} s"
            ) from exc
        except httpx.TransportError as exc:
            raise SourceUnavailable(
                f"artifact {shown} could not be fetched ({type(exc).__name__})"
            ) from exc


async def _bounded_body(response: httpx.Response, ref: ArtifactRef, shown: str) -> bytes:
    status = response.status_code
    if status == 404:
        raise NotFound(f"artifact {shown} is not there (HTTP 404)")
    if 300 <= status < 400:
        raise SourceRefused(
            f"artifact {shown} is refused: it redirects, and redirects are not followed"
        )
    if status != 200:
        raise InvalidInput(f"artifact {shown} could not be fetched: HTTP {status}")
    if response.headers.get("content-encoding", "identity").lower() != "identity":
        raise SourceRefused(
            f"artifact {shown} is refused: the server sent it encoded; ask for identity"
        )
    declared = response.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) != ref.size):
        raise mismatch(ref)
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_raw():
        size += len(chunk)
        if size > ref.size:
            raise mismatch(ref)  # stop reading at once: more than announced is never kept
        chunks.append(chunk)
    return b"".join(chunks)


def _read_beneath(ref: ArtifactRef, root: Path, relative: PurePosixPath) -> bytes:
    """Open ``root/relative`` one component at a time, never through a link; read a regular
    file only, and at most one byte more than announced."""
    shown = _shown(ref.uri)
    try:
        fd = os.open(root, _DIRECTORY)
        try:
            for part in relative.parts[:-1]:
                inner = os.open(part, _DIRECTORY, dir_fd=fd)
                os.close(fd)
                fd = inner
            handle = os.open(relative.parts[-1], _FILE, dir_fd=fd)
        finally:
            os.close(fd)
    except FileNotFoundError as exc:
        raise NotFound(f"artifact {shown} does not exist") from exc
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENOTDIR):
            raise SourceRefused(
                f"artifact {shown} is refused: its path goes through a symbolic link"
            ) from exc
        raise InvalidInput(f"artifact {shown} cannot be read ({exc.strerror})") from exc
    if not stat.S_ISREG(os.fstat(handle).st_mode):  # before fdopen: it refuses folders itself
        os.close(handle)
        raise SourceRefused(f"artifact {shown} is refused: it is not a regular file")
    with os.fdopen(handle, "rb") as source:
        try:
            return source.read(ref.size + 1)
        except OSError as exc:
            raise InvalidInput(f"artifact {shown} cannot be read ({exc.strerror})") from exc


def _verified(ref: ArtifactRef, data: bytes) -> bytes:
    if len(data) != ref.size or hashlib.sha256(data).hexdigest() != ref.sha256:
        raise mismatch(ref)
    return data


def _host_matches(allowed: str, host: str, port: int | None) -> bool:
    """``allowed`` is ``name``, ``name:port`` or ``*.domain`` (any subdomain, any port)."""
    allowed = allowed.strip().lower()
    if allowed.startswith("*."):
        return host.endswith(allowed[1:])
    name, _, wanted = allowed.partition(":")
    return host == name and (not wanted or (port is not None and str(port) == wanted))


def _listed(values: Sequence[object]) -> str:
    return f" ({', '.join(map(str, values))})" if values else " (none is configured)"


def _shown(uri: str) -> str:
    """The URI as the sender wrote it, cut short; credentials are never shown."""
    parsed = urlparse(uri)
    if parsed.password is not None or parsed.username is not None:
        uri = parsed._replace(netloc=parsed.hostname or "").geturl()
    return uri if len(uri) <= 200 else uri[:200] + "..."
