"""Limits before work: who is asking, then how much they may send, before the app reads a byte.

:class:`RequestGuard` is the outermost layer of every service's app (the deployer's
inference fast path, which answers before the app, calls the same functions itself):

1. a request to a path that is not public is authenticated from its headers alone
   (401, or 429 for a client failing too often), so an anonymous caller never gets its
   body parsed, spooled to a temporary file or held in memory;
2. its body is held to the route's limit while it is read (``Content-Length`` first, then
   the bytes as they arrive): :func:`body_limit` on an endpoint sets it, else
   ``MODELBUS_HTTP_MAX_BODY_BYTES``. A JSON body is read whole under that limit and its
   nesting held to :data:`MAX_JSON_DEPTH` before the app parses it;
3. a refusal that comes before the body was read is answered cleanly (:func:`refuse`):
   the response is sent first, then what remains of the body is read and discarded up to
   a bound (1 MiB for anonymous callers, 32 MiB otherwise) and a deadline, and only then
   is the response completed. A client that sends its whole body before reading (Python's
   urllib, requests) so receives the 413 instead of a reset connection; a body larger
   than the bound is not read, and the connection is closed after the response.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

import orjson
from starlette.routing import compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.errors import InvalidInput, ModelbusError, PayloadTooLarge, TooManyRequests
from shared.http.auth import PRINCIPAL, RouteRole, TokenAuthority, authenticate_scope

F = TypeVar("F", bound=Callable[..., Any])

DEFAULT_MAX_BODY_BYTES = 1024 * 1024
MAX_JSON_DEPTH = 64
DRAIN_BYTES = 32 * 1024 * 1024
ANONYMOUS_DRAIN_BYTES = 1024 * 1024
DRAIN_S = 5.0
_JSON_TYPES = re.compile(rb"^application/([a-z0-9.+-]+\+)?json\b")
_STRINGS = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")


def body_limit(max_bytes: int) -> Callable[[F], F]:
    """Mark an endpoint as accepting bodies of up to ``max_bytes`` (the guard reads it)."""

    def mark(endpoint: F) -> F:
        endpoint.max_body_bytes = max_bytes  # type: ignore[attr-defined]
        return endpoint

    return mark


def error_response(exc: ModelbusError) -> tuple[int, bytes, list[tuple[bytes, bytes]]]:
    """Status, JSON body and headers of the answer to ``exc`` (the one error format)."""
    headers = [(b"content-type", b"application/json")]
    if exc.status_code == 401:
        headers.append((b"www-authenticate", b"Bearer"))
    if isinstance(exc, TooManyRequests):
        headers.append((b"retry-after", str(max(1, round(exc.retry_after_s))).encode()))
    return exc.status_code, orjson.dumps(exc.to_dict()), headers


async def refuse(
    scope: Scope, receive: Receive, send: Send, exc: ModelbusError, *, drain_bytes: int
) -> None:
    """Answer ``exc`` to a request whose body was not read, so that the client sees it.

    The response goes out first; then up to ``drain_bytes`` of the body are read and
    discarded (for at most :data:`DRAIN_S`) unless the client waits for ``100 Continue``
    (it has not sent the body); the connection is closed after a body that was not read
    to its end, never kept alive with unread bytes in it.
    """
    status, body, headers = error_response(exc)
    declared = _content_length(scope)
    waiting = _header(scope, b"expect").lower() == b"100-continue"
    drain = not waiting and (declared is None or declared <= drain_bytes)
    if not drain or declared is None:
        headers.append((b"connection", b"close"))
    headers.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": True})
    if drain and declared != 0:
        await _discard(receive, drain_bytes)
    await send({"type": "http.response.body", "body": b"", "more_body": False})


async def read_body(scope: Scope, receive: Receive, limit: int) -> bytes:
    """The whole body, or :class:`PayloadTooLarge` as soon as it is known to pass ``limit``."""
    declared = _content_length(scope)
    if declared is not None and declared > limit:
        raise PayloadTooLarge(f"the request body exceeds the limit of {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise InvalidInput("the client went away before sending the whole body")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"the request body exceeds the limit of {limit} bytes")
        chunks.append(chunk)
        if not message.get("more_body", False):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def check_json_depth(body: bytes, limit: int = MAX_JSON_DEPTH) -> None:
    """Refuse JSON nested deeper than ``limit`` (strings skipped; stops at the first excess)."""
    if body.count(b"[") + body.count(b"{") <= limit:
        return
    depth = 0
    for bracket in _STRINGS.sub(b"", body).translate(None, _BRACKETS):
        depth += 1 if bracket in b"[{" else -1
        if depth > limit:
            raise InvalidInput(f"the JSON body nests deeper than {limit} levels")


@dataclass(frozen=True)
class _Route:
    path: str
    pattern: re.Pattern[str]
    methods: frozenset[str]
    public: bool
    max_body_bytes: int | None


class RequestGuard:
    """The ASGI layer of points 1 to 3 above, around a FastAPI app (``add_middleware``)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        auth: TokenAuthority,
        routes: Callable[[], Iterable[RouteRole]],
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    ) -> None:
        self.app = app
        self.auth = auth
        self.max_body_bytes = max_body_bytes
        self._list_routes = routes
        self._routes: list[_Route] | None = None  # compiled at the first request
        self._public: frozenset[str] = frozenset()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self._routes is None:
            self._compile()
        path = scope["path"]
        if path not in self._public:
            try:
                scope[PRINCIPAL] = await authenticate_scope(scope, self.auth)
            except ModelbusError as exc:
                await refuse(scope, receive, send, exc, drain_bytes=ANONYMOUS_DRAIN_BYTES)
                return
        if _has_nul(scope):
            # No name, filter or id holds a NUL, and Postgres text cannot store one: refused
            # here rather than failing as a query deep in a route.
            nul = InvalidInput("the path or query string contains a NUL character")
            await refuse(scope, receive, send, nul, drain_bytes=DRAIN_BYTES)
            return
        if not _has_body(scope):
            await self.app(scope, receive, send)
            return
        limit = self._limit(scope)
        json = _JSON_TYPES.match(_header(scope, b"content-type").lower()) is not None
        try:
            if json:
                body = await read_body(scope, receive, limit)
                check_json_depth(body)
            elif (_content_length(scope) or 0) > limit:
                raise PayloadTooLarge(f"the request body exceeds the limit of {limit} bytes")
        except ModelbusError as exc:
            await refuse(scope, receive, send, exc, drain_bytes=DRAIN_BYTES)
            return
        if json:
            await self.app(scope, _replay(body, receive), send)
        else:
            await _CappedBody(self.app, limit)(scope, receive, send)

    def _compile(self) -> None:
        routes = []
        for route in self._list_routes():
            pattern, _, _ = compile_path(route.path)
            public = route.role is None
            routes.append(_Route(route.path, pattern, route.methods, public, route.max_body_bytes))
        self._public = frozenset(r.path for r in routes if r.public)
        self._routes = routes

    def _limit(self, scope: Scope) -> int:
        assert self._routes is not None
        path, method = scope["path"], scope["method"]
        for route in self._routes:
            if method in route.methods and route.pattern.match(path):
                return route.max_body_bytes or self.max_body_bytes
        return self.max_body_bytes


class _CappedBody:
    """Streams a body to the app, counting; past the limit the app is cut off and a 413
    answered instead of whatever it would have said."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        received = 0
        over = False
        started = False

        async def capped_receive() -> Message:
            nonlocal received, over
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.limit:
                over = True
                raise PayloadTooLarge(f"the request body exceeds the limit of {self.limit} bytes")
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if over:
                return  # the app's answer to a body it could not read: ours goes out instead
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, capped_receive, guarded_send)
        except Exception:
            if not over:
                raise
        if over and not started:
            exc = PayloadTooLarge(f"the request body exceeds the limit of {self.limit} bytes")
            await refuse(scope, receive, send, exc, drain_bytes=DRAIN_BYTES)


def _has_nul(scope: Scope) -> bool:
    query: bytes = scope.get("query_string", b"")
    return "\x00" in scope["path"] or b"\x00" in query or b"%00" in query


def _replay(body: bytes, receive: Receive) -> Receive:
    """The body already read, then the connection's own messages (a disconnect)."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay


async def _discard(receive: Receive, limit: int) -> None:
    deadline = time.monotonic() + DRAIN_S
    read = 0
    while read <= limit and time.monotonic() < deadline:
        message = await receive()
        if message["type"] != "http.request":
            return
        read += len(message.get("body", b""))
        if not message.get("more_body", False):
            return


def _header(scope: Scope, name: bytes) -> bytes:
    for key, value in scope["headers"]:
        if key == name:
            return bytes(value)
    return b""


def _content_length(scope: Scope) -> int | None:
    raw = _header(scope, b"content-length")
    return int(raw) if raw.isdigit() else None


def _has_body(scope: Scope) -> bool:
    declared = _content_length(scope)
    if declared is not None:
        return declared > 0
    return _header(scope, b"transfer-encoding") != b""
