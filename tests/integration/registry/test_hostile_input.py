"""Hostile input at the registry's doors: claim checks pointing where no service may read,
files that cannot be read, and uploads larger than anyone should send without a token.

Every refusal names the rule and echoes nothing it read; nothing blocks what comes next.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import tempfile
from pathlib import Path

import orjson
import psutil
import pytest

from shared.events.common import ArtifactRef
from shared.events.registry import ModelSubmitted
from tests.integration.registry.conftest import LOOP, Registry
from tests.support.bus import collect, publish
from tests.support.onnx_models import logistic_regression_onnx, tagged

pytestmark = [pytest.mark.integration, LOOP]

ENVIRON = "file:///proc/self/environ"


def submission(name: str, ref: ArtifactRef, suffix: str) -> ModelSubmitted:
    return ModelSubmitted(
        submission_id=f"ci-{suffix}", model_name=name, artifact=ref, task="classification"
    )


def leaks(text: str) -> list[str]:
    """Values of this process' environment that appear in ``text`` (it must be none)."""
    return [k for k, v in os.environ.items() if len(v) >= 8 and v in text]


async def test_claim_checks_outside_the_sources_are_refused_naming_the_rule(
    registry: Registry, unique: str, tmp_path: Path
) -> None:
    link = tmp_path / "innocent.onnx"
    link.symlink_to("/proc/self/environ")
    real = await asyncio.to_thread(Path("/proc/self/environ").read_bytes)
    cases = {
        # The sequence: a wrong size, then the real size, then size and digest right.
        "size": (ENVIRON, "0" * 64, 1, "MODELBUS_ARTIFACT_SOURCE_DIRS"),
        "digest": (ENVIRON, "0" * 64, len(real), "MODELBUS_ARTIFACT_SOURCE_DIRS"),
        "exact": (ENVIRON, hashlib.sha256(real).hexdigest(), len(real), "SOURCE_DIRS"),
        "link": (link.as_uri(), "0" * 64, 10, "symbolic link"),
        "metadata": ("http://169.254.169.254/latest/meta-data", "0" * 64, 1, "SOURCE_HOSTS"),
    }
    sent = await publish(
        registry.bootstrap,
        *(
            submission(f"{kind}-{unique}", ArtifactRef(uri=uri, sha256=d, size=n), kind + unique)
            for kind, (uri, d, n, _) in cases.items()
        ),
    )
    failed = await collect(
        registry.bootstrap,
        "model.registration_failed",
        where=lambda e: e.data.model_name in {s.data.model_name for s in sent},
        until=lambda found: len(found) >= len(cases),
    )
    by_name = {e.data.model_name: e.data for e in failed}
    for kind, (_, _, _, rule) in cases.items():
        notice = by_name[f"{kind}-{unique}"]
        assert notice.failed_checks == ["source"], notice.reason
        assert rule in notice.reason, notice.reason
        assert leaks(notice.reason) == [], notice.reason
    assert str(len(real)) not in by_name[f"size-{unique}"].reason  # the real size, unsaid


async def test_an_upload_whose_profile_names_a_forbidden_sample_is_refused(
    registry: Registry, unique: str
) -> None:
    model = tagged(logistic_regression_onnx().onnx, unique)
    profile = {"reference_sample": {"uri": ENVIRON, "sha256": "0" * 64, "size": 1}}
    async with registry.client(registry.scientist) as client:
        response = await client.post(
            f"/v1/models/profiled-{unique}/versions",
            files={
                "artifact": ("m.onnx", model),
                "reference_profile": ("p.json", orjson.dumps(profile)),
            },
            data={"metadata": '{"task": "classification"}'},
        )
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["detail"]["failed_checks"] == ["source"]
    assert "MODELBUS_ARTIFACT_SOURCE_DIRS" in body["error"] and leaks(body["error"]) == []
    assert not registry.stored(hashlib.sha256(model).hexdigest())


async def test_an_unreadable_file_is_dead_lettered_and_the_next_event_is_processed(
    registry: Registry, unique: str, tmp_path: Path
) -> None:
    """Not a file (a folder, a FIFO): the same model, so the same partition, right behind."""
    name = f"unreadable-{unique}"
    (tmp_path / "folder.onnx").mkdir()
    os.mkfifo(tmp_path / "pipe.onnx")
    good = tagged(logistic_regression_onnx().onnx, unique)
    (tmp_path / "good.onnx").write_bytes(good)
    digest = hashlib.sha256(good).hexdigest()
    refs = [
        ArtifactRef(uri=(tmp_path / "folder.onnx").as_uri(), sha256=digest, size=len(good)),
        ArtifactRef(uri=(tmp_path / "pipe.onnx").as_uri(), sha256=digest, size=len(good)),
        ArtifactRef(uri=(tmp_path / "good.onnx").as_uri(), sha256=digest, size=len(good)),
    ]
    sent = await publish(
        registry.bootstrap,
        *(submission(name, ref, f"{i}-{unique}") for i, ref in enumerate(refs)),
    )
    registered = await collect(
        registry.bootstrap,
        "model.registered",
        where=lambda e: e.data.model_name == name,
        until=lambda found: len(found) >= 1,
    )
    assert registered[0].data.artifact.sha256 == digest
    letters = await collect(
        registry.bootstrap,
        "model.submitted.dlq",
        raw=True,
        where=lambda r: orjson.loads(r.value).get("id") in {e.id for e in sent[:2]},
        until=lambda found: len(found) >= 2,
    )
    for letter in letters:
        headers = {k: v.decode() for k, v in letter.headers}
        assert headers["modelbus.dlq.error_class"] == "Refused"
        assert "not a regular file" in headers["modelbus.dlq.error_message"]


async def _read_until_closed(reader: asyncio.StreamReader) -> bytes:
    received = b""
    try:
        while chunk := await reader.read(65536):
            received += chunk
    except ConnectionError:
        pass
    return received


async def _push(port: int, head: bytes, most: int) -> tuple[bytes, int]:
    """Send ``head`` then body bytes until the server answers and stops reading."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    reading = asyncio.create_task(_read_until_closed(reader))
    writer.write(head)
    sent, chunk = 0, b"x" * 65536
    try:
        while sent < most and not reading.done():
            writer.write(chunk)
            await asyncio.wait_for(writer.drain(), 2)
            sent += len(chunk)
    except (ConnectionError, TimeoutError):
        pass
    finally:
        writer.close()
    return await asyncio.wait_for(reading, 10), sent


@pytest.mark.parametrize("who", ["anonymous", "data scientist"])
async def test_a_1_gb_upload_is_refused_without_being_read(
    registry: Registry, unique: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, who: str
) -> None:
    spool = tmp_path / "spool"  # where Starlette would spool the multipart parts
    spool.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(spool))
    auth = f"Authorization: Bearer {registry.scientist}\r\n" if who != "anonymous" else ""
    head = (
        f"POST /v1/models/huge-{unique}/versions HTTP/1.1\r\nHost: registry\r\n{auth}"
        "Content-Type: multipart/form-data; boundary=b\r\n"
        f"Content-Length: {1024**3}\r\n\r\n--b\r\n"
        'Content-Disposition: form-data; name="artifact"; filename="m.onnx"\r\n\r\n'
    ).encode()
    process = psutil.Process()
    before = process.memory_info().rss

    answer, sent = await _push(registry.service.port, head, most=256 * 1024 * 1024)

    status = 401 if who == "anonymous" else 413
    assert answer.startswith(f"HTTP/1.1 {status} ".encode()), answer[:200]
    assert b"connection: close" in answer.lower()
    assert sent < 64 * 1024 * 1024, f"the server kept reading: {sent} bytes accepted"
    assert process.memory_info().rss - before < 64 * 1024 * 1024
    assert list(spool.iterdir()) == []
