"""Calls to the five services' public HTTP APIs, always with the signed-in person's token.

A page is built from several reads made concurrently; a read that fails becomes a
:class:`Failed` the page shows in place ("the monitor did not answer"), so one service
being down never blanks the whole console. Errors carry the service's own message (its
``{"error": ...}`` body), never the response body otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

# Bodies the console accepts from a service; anything larger is refused, not parsed.
MAX_RESPONSE_BYTES = 32 * 1024 * 1024


@dataclass(frozen=True)
class Failed:
    service: str
    status: int | None
    message: str

    def __bool__(self) -> bool:
        return False

    def __str__(self) -> str:
        return self.message


class ServiceError(Exception):
    def __init__(self, failure: Failed) -> None:
        super().__init__(failure.message)
        self.failure = failure


def _message(service: str, response: httpx.Response) -> str:
    try:
        body = response.json()
        error = body.get("error") if isinstance(body, dict) else None
    except ValueError:
        error = None
    if isinstance(error, list):
        error = "; ".join(str(e) for e in error)
    if not isinstance(error, str) or not error:
        error = response.reason_phrase or "error"
    return f"{service} answered {response.status_code}: {error[:500]}"


class Services:
    """One pooled HTTP client per service, over the URLs the console was configured with."""

    def __init__(self, urls: dict[str, str], timeout_s: float) -> None:
        # trust_env=False: a proxy in the environment must not see the users' tokens.
        self._clients = {
            name: httpx.AsyncClient(base_url=url, timeout=timeout_s, trust_env=False)
            for name, url in urls.items()
        }

    async def aclose(self) -> None:
        for client in self._clients.values():
            await client.aclose()

    async def _call(
        self, service: str, method: str, path: str, token: str, **kwargs: Any
    ) -> Any | Failed:
        client = self._clients[service]
        headers = {"Authorization": f"Bearer {token}"}
        try:
            response = await client.request(method, path, headers=headers, **kwargs)
        except httpx.HTTPError as exc:
            return Failed(service, None, f"{service} did not answer ({exc.__class__.__name__})")
        if response.status_code >= 400:
            return Failed(service, response.status_code, _message(service, response))
        if len(response.content) > MAX_RESPONSE_BYTES:
            return Failed(service, response.status_code, f"{service} answered too much")
        if response.headers.get("content-type", "").startswith("application/json"):
            return response.json()
        return response.text

    async def get(self, service: str, path: str, token: str, **params: Any) -> Any | Failed:
        clean = {k: v for k, v in params.items() if v is not None}
        return await self._call(service, "GET", path, token, params=clean)

    async def post(self, service: str, path: str, token: str, body: dict[str, Any]) -> Any:
        """An action; a refusal raises :class:`ServiceError` with the service's reason."""
        answer = await self._call(service, "POST", path, token, json=body)
        if isinstance(answer, Failed):
            raise ServiceError(answer)
        return answer
