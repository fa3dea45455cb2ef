"""Refused models: a reason for the sender, nothing stored, through either door."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import orjson
import pytest

from shared.events.common import ArtifactRef
from shared.events.registry import ModelSubmitted
from tests.integration.registry.conftest import LOOP, Registry
from tests.support.bus import collect, publish
from tests.support.onnx_models import (
    custom_domain_onnx,
    external_data_onnx,
    gradient_boosting_onnx,
    logistic_regression_onnx,
    tagged,
)

pytestmark = [pytest.mark.integration, LOOP]


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def bad_models(unique: str) -> dict[str, tuple[bytes, str | None, str]]:
    """kind -> (bytes, the digest to announce (None: the true one), the check that fails)."""
    good = tagged(logistic_regression_onnx().onnx, unique)  # bytes no other test stores
    return {
        "corrupt": (os.urandom(2048), None, "onnx_parse"),
        "mismatch": (good, sha256(good + b"tampered"), "digest"),
        "custom": (custom_domain_onnx(), None, "operator_domains"),
        "huge": (gradient_boosting_onnx(300).onnx, None, "size"),
    }


async def test_refused_submissions_are_dead_lettered_and_announced(
    registry: Registry, unique: str, tmp_path: Path
) -> None:
    submissions: dict[str, ModelSubmitted] = {}
    for kind, (data, announced, _) in bad_models(unique).items():
        path = tmp_path / f"{kind}.onnx"
        path.write_bytes(data)
        artifact = ArtifactRef(uri=path.as_uri(), sha256=announced or sha256(data), size=len(data))
        submissions[kind] = ModelSubmitted(
            submission_id=f"ci-{kind}-{unique}",
            model_name=f"{kind}-{unique}",
            artifact=artifact,
            task="classification",
        )
    sent = {e.data.model_name: e for e in await publish(registry.bootstrap, *submissions.values())}

    failed = await collect(
        registry.bootstrap,
        "model.registration_failed",
        where=lambda e: e.data.model_name in sent,
        until=lambda found: len(found) >= len(sent),
    )
    letters = await collect(
        registry.bootstrap,
        "model.submitted.dlq",
        raw=True,
        where=lambda r: orjson.loads(r.value).get("id") in {e.id for e in sent.values()},
        until=lambda found: len(found) >= len(sent),
    )

    by_name = {e.data.model_name: e for e in failed}
    assert len(failed) == len(sent)  # once each
    for kind, (data, _, check) in bad_models(unique).items():
        notice = by_name[f"{kind}-{unique}"]
        assert notice.data.failed_checks == [check], notice.data.reason
        assert notice.data.source == "submission"
        assert notice.data.reference == f"ci-{kind}-{unique}"
        assert notice.causationid == sent[notice.data.model_name].id
        assert not registry.stored(sha256(data))
    for letter in letters:
        headers = {k: v.decode() for k, v in letter.headers}
        assert headers["modelbus.dlq.topic"] == "model.submitted"
        assert headers["modelbus.dlq.error_class"] == "Refused"
        assert "refused" in headers["modelbus.dlq.error_message"]
    async with registry.client() as client:
        for name in sent:
            assert (await client.get(f"/v1/models/{name}")).status_code == 404
    assert await outbox_counts(registry, set(sent)) == {
        ("model.registration_failed", 1),
        ("model.submitted.dlq", 1),
    }


async def outbox_counts(registry: Registry, names: set[str]) -> set[tuple[str, int]]:
    """(topic, rows per model) for what the registry wrote about ``names``."""
    assert registry.service.infra is not None
    rows = await registry.service.infra.pool.fetch(
        "SELECT topic, key, count(*) AS n FROM outbox WHERE key = ANY($1) GROUP BY topic, key",
        list(names),
    )
    assert {row["key"] for row in rows} == names
    return {(row["topic"], row["n"]) for row in rows}


async def test_refused_uploads_answer_4xx_and_are_announced(
    registry: Registry, unique: str
) -> None:
    cases = {
        **bad_models(unique),
        "external": (external_data_onnx(), None, "external_data"),
    }
    async with registry.client(registry.scientist) as client:
        for kind, (data, announced, check) in cases.items():
            metadata: dict[str, Any] = {"task": "classification", "sha256": announced}
            response = await client.post(
                f"/v1/models/{kind}-up-{unique}/versions",
                files={"artifact": (f"{kind}.onnx", data)},
                data={"metadata": orjson.dumps(metadata).decode()},
            )
            assert response.status_code == (413 if check == "size" else 422), response.text
            body = response.json()
            assert body["code"] == "refused" and body["detail"]["failed_checks"] == [check]
            assert not registry.stored(sha256(data))
        unknown_parent = await client.post(
            f"/v1/models/orphan-{unique}/versions",
            files={"artifact": ("m.onnx", logistic_regression_onnx().onnx)},
            data={"metadata": '{"task": "classification", "parent_version": 7}'},
        )
        assert unknown_parent.status_code == 422
        assert unknown_parent.json()["detail"]["failed_checks"] == ["lineage"]
        assert (await client.get(f"/v1/models/orphan-{unique}")).status_code == 404

    names = {f"{kind}-up-{unique}" for kind in cases} | {f"orphan-{unique}"}
    failed = await collect(
        registry.bootstrap,
        "model.registration_failed",
        where=lambda e: e.data.model_name in names,
        until=lambda found: len(found) >= len(names),
    )
    assert {e.data.model_name for e in failed} == names
    assert all(e.data.source == "upload" and e.data.reason for e in failed)
    assert await outbox_counts(registry, names) == {("model.registration_failed", 1)}


async def test_malformed_upload_requests_are_400(registry: Registry, unique: str) -> None:
    async with registry.client(registry.scientist) as client:
        no_task = await client.post(
            f"/v1/models/m-{unique}/versions",
            files={"artifact": ("m.onnx", logistic_regression_onnx().onnx)},
            data={"metadata": "{}"},
        )
        bad_name = await client.post(
            "/v1/models/Not_A_Name/versions",
            files={"artifact": ("m.onnx", b"x")},
            data={"metadata": '{"task": "regression"}'},
        )
    assert no_task.status_code == 400 and "task" in no_task.json()["error"]
    assert bad_name.status_code == 400
    async with registry.client() as client:  # a viewer may not upload
        denied = await client.post(
            f"/v1/models/m-{unique}/versions", files={"artifact": ("m.onnx", b"x")}
        )
    assert denied.status_code == 403
