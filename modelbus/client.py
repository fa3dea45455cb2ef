"""HTTP client the CLI uses to talk to a running service, with the caller's bearer token."""

from __future__ import annotations

import os
from typing import Any

import httpx

from shared.errors import ModelbusError
from shared.settings import DEFAULT_PORTS


def service_url(service: str) -> str:
    """``MODELBUS_<SERVICE>_URL``, else the service's default port on localhost."""
    explicit = os.environ.get(f"MODELBUS_{service.upper()}_URL")
    if explicit:
        return explicit.rstrip("/")
    port = os.environ.get(f"MODELBUS_{service.upper()}_PORT", str(DEFAULT_PORTS[service]))
    return f"http://127.0.0.1:{port}"


class ServiceClient:
    def __init__(self, service: str, token: str | None = None, timeout: float = 30.0) -> None:
        token = token or os.environ.get("MODELBUS_TOKEN")
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.http = httpx.Client(base_url=service_url(service), headers=headers, timeout=timeout)

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = self.http.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise ModelbusError(
                f"cannot reach {self.http.base_url} ({exc}); is the platform running?"
            ) from exc
        if response.status_code >= 400:
            try:
                message = response.json().get("error", response.text)
            except ValueError:
                message = response.text
            error = ModelbusError(f"{response.status_code}: {message}")
            error.status_code = response.status_code
            raise error
        if response.headers.get("content-type", "").startswith("application/json"):
            return response.json()
        return response.content

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> Any:
        return self.request("POST", path, **kwargs)
