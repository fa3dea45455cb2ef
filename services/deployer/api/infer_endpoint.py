"""``POST /v2/models/{m}[/versions/{v}]/infer`` as a bare ASGI endpoint.

The hot path of the service, so it skips what it does not need: no FastAPI dependency
injection, no Request/Response objects, headers read once from the scope. It answers
before the app's request guard, so it does what the guard does, with the guard's own
functions: the token first (:func:`shared.http.auth.check_role`, cached by the
TokenAuthority), then the body under its cap (:func:`shared.http.guard.read_body`), and a
refusal that comes before the body was read is answered so that the client receives it
(:func:`shared.http.guard.refuse`). ``required_role`` tells the route audit what it
checks. The same instance is mounted in the app's router and called by
:mod:`services.deployer.api.fast_path`.
"""

from __future__ import annotations

import zlib
from typing import Any

import orjson
import structlog
from starlette.types import Receive, Scope, Send

from services.deployer.runtime.codec import parse_request
from services.deployer.serving.inference import Inference
from shared.errors import InvalidInput, ModelbusError, PayloadTooLarge
from shared.http.auth import check_role
from shared.http.guard import ANONYMOUS_DRAIN_BYTES, DRAIN_BYTES, read_body, refuse

log = structlog.get_logger(__name__)

_JSON = [(b"content-type", b"application/json")]
_BINARY = b"application/octet-stream"


class InferEndpoint:
    required_role = "viewer"

    def __init__(self, inference: Inference, *, max_body_bytes: int) -> None:
        self.inference = inference
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await check_role(scope, "viewer")
        except ModelbusError as exc:
            await refuse(scope, receive, send, exc, drain_bytes=ANONYMOUS_DRAIN_BYTES)
            return
        try:
            raw = await read_body(scope, receive, self.max_body_bytes)
        except PayloadTooLarge as exc:
            await refuse(scope, receive, send, exc, drain_bytes=DRAIN_BYTES)
            return
        except ModelbusError as exc:
            await _respond(send, exc.status_code, orjson.dumps(exc.to_dict()), _JSON)
            return
        try:
            headers = dict(scope["headers"])
            body = self._decompressed(headers, raw)
            split = headers.get(b"inference-header-content-length")
            params = scope["path_params"]
            payload, json_length = await self.inference.infer(
                params["model_name"],
                version_number(params.get("version")),
                parse_request(body, _integer(split, "Inference-Header-Content-Length")),
                lambda name: _text(headers.get(name.lower().encode())),
            )
        except ModelbusError as exc:
            await _respond(send, exc.status_code, orjson.dumps(exc.to_dict()), _JSON)
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

    def _decompressed(self, headers: dict[bytes, bytes], body: bytes) -> bytes:
        """The body as sent, or inflated (gzip, deflate) under the same limit."""
        limit = self.max_body_bytes
        encoding = headers.get(b"content-encoding", b"identity")
        if encoding not in (b"identity", b"gzip", b"deflate"):
            raise InvalidInput("unsupported Content-Encoding: use gzip or deflate, or none")
        if encoding != b"identity":
            inflater = zlib.decompressobj(wbits=31 if encoding == b"gzip" else 15)
            try:
                body = inflater.decompress(body, limit + 1)
            except zlib.error as exc:
                raise InvalidInput(f"request body is not valid {encoding.decode()}") from exc
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
        raise InvalidInput(f"{what} must be an integer") from exc


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
