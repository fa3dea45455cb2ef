"""A body over the inference limit gets a 413 that ordinary clients receive, and a caller
without a token is refused before its body is read, on the fast path as on every route."""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request

import pytest
import requests

from shared.runtime import ServiceProcess
from tests.integration.deployer.harness import admin_token

pytestmark = pytest.mark.integration

TEN_MB = b"[" + b"0," * (5 * 1024 * 1024) + b"0]"  # 10 MB of JSON, over the 8 MiB limit


def _urllib_post(url: str, token: str) -> tuple[int, dict[str, object]]:
    request = urllib.request.Request(
        url, data=TEN_MB, headers={"Authorization": f"Bearer {token}"}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def _requests_post(url: str, token: str) -> tuple[int, dict[str, object]]:
    response = requests.post(
        url, data=TEN_MB, headers={"Authorization": f"Bearer {token}"}, timeout=30
    )
    return response.status_code, response.json()


@pytest.mark.parametrize("client", [_urllib_post, _requests_post], ids=["urllib", "requests"])
async def test_a_10_mb_infer_body_gets_a_413_that_plain_clients_receive(
    deployer: ServiceProcess, unique: str, client: object
) -> None:
    token = await admin_token(deployer)
    url = f"http://127.0.0.1:{deployer.port}/v2/models/m-{unique}/infer"
    status, body = await asyncio.to_thread(client, url, token)  # type: ignore[arg-type]
    assert status == 413, body
    assert body["code"] == "payload_too_large"
    assert "limit of 8388608 bytes" in str(body["error"])


async def test_an_anonymous_infer_is_refused_before_its_body(
    deployer: ServiceProcess, unique: str
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", deployer.port)
    try:
        writer.write(
            f"POST /v2/models/m-{unique}/infer HTTP/1.1\r\nHost: x\r\n"
            "Content-Type: application/json\r\nContent-Length: 1073741824\r\n"
            "Expect: 100-continue\r\n\r\n".encode()
        )
        await writer.drain()
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
        assert head.startswith(b"HTTP/1.1 401 "), head  # no "100 Continue": no body asked for
        assert b"www-authenticate: bearer" in head.lower()
    finally:
        writer.close()
