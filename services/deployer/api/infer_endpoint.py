"""``POST /v2/models/{m}[/versions/{v}]/infer`` as a bare ASGI endpoint.

The hot path of the service, so it skips what it does not need: no FastAPI dependency
injection, no Request/Response objects beyond the token check, headers read once from the
scope. The token check is still :func:`shared.http.auth.require` (cached by the
TokenAuthority), and ``required_role`` tells the route audit what it checks. The same
instance is mounted in the app's router and called by :mod:`services.deployer.api.fast_path`.
"""

from __future__ import annotations

import zlib
from typing import Any

import orjson
import structlog
from starlette.requests import Request
from starlette.types import Receive, Scope, Send

from services.deployer.runtime.codec import parse_request
from services.deployer.serving.inference import Inference
from shared.errors import InvalidInput, ModelbusError, PayloadTooLarge
from shared.http.auth import require

log = structlog.get_logger(__name__)

_JSON = [(b"content-type", b"application/json")]
_BINARY = b"application/octet-stream"


class InferEndpoint:
    required_role = "viewer"

    def __init__(self, inference: Inference, *, max_body_bytes: int) -> None:
        self.inference = inference
        self.max_body_bytes = max_body_bytes
        self._check = require("viewer")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await self._check(Request(scope))
            headers = dict(scope["headers"])
            body = await self._body(headers, receive)
            split = headers.get(b"inference-header-content-length")
            params = scope["path_params"]
            payload, json_length = await self.inference.infer(
                params["model_name"],
                version_number(params.get("version")),
                parse_request(body, _integer(split, "Inference-Header-Content-Length")),
                lambda name: _text(headers.get(name.lower().encode())),
            )
        except ModelbusError as exc:
            extra = [(b"www-authenticate", b"Bearer")] if exc.status_code == 401 else []
            await _respond(send, exc.status_code, orjson.dumps(exc.to_dict()), _JSON + extra)
            return
        except Exception:
            log.exception("inference.crashed", path=scope.get("path"))
            await _respond(send, 500, b'{"error":"internal error","code":"internal_error"}', _JSON)
            return
        if json_length is None:
            await _respond(send, 200, payload, _JSON)
        else:
            await _respond(
                send,
                200,
                payload,
                [
                    (b"content-type", _BINARY),
                    (b"inference-header-content-length", str(json_length).encode()),
                ],
            )

    async def _body(self, headers: dict[bytes, bytes], receive: Receive) -> bytes:
        """The body, decompressed; a 413 as soon as it is known to pass the limit."""
        limit = self.max_body_bytes
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            raise PayloadTooLarge(f"request body of {int(declared)} bytes exceeds {limit} bytes")
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise PayloadTooLarge(f"request body exceeds {limit} bytes")
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        encoding = headers.get(b"content-encoding", b"identity")
        if encoding not in (b"identity", b"gzip", b"deflate"):
            raise InvalidInput(
                f"unsupported Content-Encoding {_text(encoding)!r}: use gzip or deflate, or none"
            )
        if encoding != b"identity":
            inflater = zlib.decompressobj(wbits=31 if encoding == b"gzip" else 15)
            try:
                body = inflater.decompress(body, limit + 1)
            except zlib.error as exc:
                raise InvalidInput(f"request body is not valid {encoding.decode()}: {exc}") from exc
            if len(body) > limit or inflater.unconsumed_tail:
                raise PayloadTooLarge(f"decompressed request body exceeds {limit} bytes")
        return body


def version_number(raw: str | None) -> int | None:
    return _integer(raw, "model version")


def _integer(raw: Any, what: str) -> int | None:
    if raw is None:
        return None
    try:
        return int(raw)
    except ValueError as exc:
        raise InvalidInput(f"{what} must be an integer, got {_text(raw)!r}") from exc


def _text(raw: bytes | str | None) -> str | None:
    return raw.decode("latin-1") if isinstance(raw, bytes) else raw


async def _respond(
    send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]]
) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [*headers, (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})
