"""Twenty registrations of one name at once: versions 1..20, no gap, no duplicate."""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path

import orjson
import pytest

from shared.events.common import ArtifactRef
from shared.events.registry import ModelSubmitted
from tests.integration.registry.conftest import LOOP, Registry
from tests.support.bus import collect, publish
from tests.support.onnx_models import regression_onnx

pytestmark = [pytest.mark.integration, LOOP]

UPLOADS, SUBMISSIONS = 15, 5
# Each registration is validated in a sandbox process of its own, a few at a time: on a
# loaded machine the last of twenty answers long after the first (a bound, not a timing).
PATIENCE_S = 300


async def test_concurrent_uploads_and_submissions_number_without_gaps(
    registry: Registry, unique: str, tmp_path: Path
) -> None:
    name = f"diabetes-{unique}"
    data = regression_onnx().onnx
    path = tmp_path / "model.onnx"
    path.write_bytes(data)
    artifact = ArtifactRef(
        uri=path.as_uri(), sha256=hashlib.sha256(data).hexdigest(), size=len(data)
    )
    submissions = [
        ModelSubmitted(submission_id=f"ci-{i}-{unique}", model_name=name, artifact=artifact,
                       task="regression")
        for i in range(SUBMISSIONS)
    ]  # fmt: skip

    async with registry.client(registry.scientist, timeout=PATIENCE_S) as client:

        async def upload(i: int) -> int:
            metadata = {"task": "regression", "upload_id": f"up-{i}-{unique}"}
            response = await client.post(
                f"/v1/models/{name}/versions",
                files={"artifact": ("model.onnx", data)},
                data={"metadata": orjson.dumps(metadata).decode()},
            )
            assert response.status_code == 201, response.text
            return int(response.json()["version"])

        uploaded, _ = await asyncio.gather(
            asyncio.gather(*(upload(i) for i in range(UPLOADS))),
            publish(registry.bootstrap, *submissions),
        )
        events = await collect(
            registry.bootstrap,
            "model.registered",
            where=lambda e: e.data.model_name == name,
            until=lambda found: len(found) >= UPLOADS + SUBMISSIONS,
            timeout=PATIENCE_S,
        )
        listed = (await client.get(f"/v1/models/{name}/versions")).json()
        retried = await client.post(  # the same upload_id again: the same version, not a new one
            f"/v1/models/{name}/versions",
            files={"artifact": ("model.onnx", data)},
            data={
                "metadata": orjson.dumps(
                    {"task": "regression", "upload_id": f"up-0-{unique}"}
                ).decode()
            },
        )

    total = UPLOADS + SUBMISSIONS
    assert len(set(uploaded)) == UPLOADS
    assert sorted(e.data.version for e in events) == list(range(1, total + 1))
    assert [v["version"] for v in listed] == list(range(1, total + 1))
    assert [v["parent_version"] for v in listed] == [None, *range(1, total)]
    assert {v["source"] for v in listed} == {"upload", "submission"}
    assert retried.status_code == 200 and retried.json()["version"] == uploaded[0]
