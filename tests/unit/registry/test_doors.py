"""The three doors become one candidate; a claim that cannot be honoured is a refusal."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any, cast

import pytest

from services.registry.claims import load_claim
from services.registry.domain import doors
from services.registry.domain.candidate import DESCRIPTION, Candidate, description_of
from services.registry.domain.refusal import Check, Refusal
from services.registry.registration import Registrar
from services.registry.settings import RegistrySettings
from shared.bus.unit_of_work import UnitOfWork
from shared.errors import Refused
from shared.events.common import ArtifactRef, ModelMetadata, ModelSignature
from shared.events.registry import ModelRegistered, ModelRegistrationFailed, ModelSubmitted
from shared.events.training import TrainingCompleted
from shared.store.artifacts import sha256_hex
from shared.store.sources import ArtifactSources
from tests.unit.registry.fakes import FakeArtifactStore

REF = ArtifactRef(uri="pg://artifacts/" + "a" * 64, sha256="a" * 64, size=10)


def training(**changes: Any) -> TrainingCompleted:
    fields: dict[str, Any] = {
        "request_id": "req-1", "job_id": "job-1", "model_name": "churn", "task": "classification",
        "algorithm": "random_forest", "artifact": REF, "metrics": {"f1": 0.8},
        "params": {"n_estimators": 100}, "candidates": [], "dataset_sha256": "d" * 64,
        "parity_passed": True, "duration_s": 3.0, "parent_version": 4,
        "metadata": ModelMetadata(owner="ana", risk_tier="high"),
    }  # fmt: skip
    return TrainingCompleted(**{**fields, **changes})


def test_a_training_result_is_known_by_its_job_and_named_by_its_request() -> None:
    candidate = doors.from_training(training())
    assert (candidate.source, candidate.origin, candidate.reference) == (
        "trainer",
        "job-1",
        "req-1",
    )
    assert candidate.algorithm == "random_forest" and candidate.training_job_id == "job-1"
    assert candidate.parent_version == 4 and candidate.metadata.owner == "ana"


def test_a_submission_is_known_by_its_id_and_credits_its_sender() -> None:
    submitted = ModelSubmitted(submission_id="ci-9", model_name="churn", artifact=REF,
                               task="regression", algorithm="xgboost")  # fmt: skip
    candidate = doors.from_submission(submitted, submitter="/ci/pipeline")
    assert (candidate.origin, candidate.reference) == ("ci-9", "ci-9")
    assert candidate.registered_by == "/ci/pipeline" and candidate.algorithm == "xgboost"


def test_an_upload_without_an_id_gets_a_fresh_one() -> None:
    upload = doors.UploadMetadata(task="regression")
    first, second = (doors.from_upload("m", upload, "dana") for _ in range(2))
    assert first.origin != second.origin and first.reference == first.origin
    given = doors.from_upload("m", doors.UploadMetadata(task="regression", upload_id="u1"), "d")
    assert given.origin == "u1"


@pytest.mark.parametrize(
    ("case", "check"),
    [("missing", Check.FETCH), ("tampered", Check.DIGEST), ("huge", Check.SIZE),
     ("ftp", Check.SOURCE), ("device", Check.SOURCE), ("grown", Check.DIGEST),
     ("outside", Check.SOURCE), ("link", Check.SOURCE), ("fifo", Check.SOURCE),
     ("dotdot", Check.SOURCE), ("folder", Check.SOURCE)],
)  # fmt: skip
async def test_claims_that_cannot_be_honoured_are_refusals(
    case: str, check: Check, tmp_path: Path
) -> None:
    allowed = tmp_path / "allowed"
    allowed.mkdir()
    path = allowed / "m.onnx"
    path.write_bytes(b"0123456789")
    digest = sha256_hex(b"0123456789")
    big = allowed / "big.onnx"
    big.write_bytes(b"0" * 2_000)
    secret = tmp_path / "secret"
    secret.write_bytes(b"0123456789")
    (allowed / "link").symlink_to(secret)
    os.mkfifo(allowed / "fifo")
    (allowed / "folder").mkdir()
    ref = {
        "missing": ArtifactRef(uri=(allowed / "gone").as_uri(), sha256=digest, size=10),
        "tampered": ArtifactRef(uri=path.as_uri(), sha256="b" * 64, size=10),
        "huge": ArtifactRef(uri=path.as_uri(), sha256=digest, size=10_000),
        "ftp": ArtifactRef(uri="ftp://example.org/m.onnx", sha256=digest, size=10),
        "device": ArtifactRef(uri="file:///dev/zero", sha256=digest, size=10),
        "grown": ArtifactRef(uri=big.as_uri(), sha256=digest, size=10),  # announced small
        "outside": ArtifactRef(uri=secret.as_uri(), sha256=digest, size=10),
        "link": ArtifactRef(uri=(allowed / "link").as_uri(), sha256=digest, size=10),
        "fifo": ArtifactRef(uri=(allowed / "fifo").as_uri(), sha256=digest, size=10),
        "folder": ArtifactRef(uri=(allowed / "folder").as_uri(), sha256=digest, size=10),
        "dotdot": ArtifactRef(uri=f"file://{allowed}/../secret", sha256=digest, size=10),
    }[case]
    sources = ArtifactSources(FakeArtifactStore(), dirs=[allowed])
    with pytest.raises(Refusal) as caught:
        await load_claim(ref, sources, max_bytes=1_000)
    assert list(caught.value.failures) == [check]
    reason = caught.value.reason
    assert "2000" not in reason and sha256_hex(b"0" * 2_000) not in reason  # nothing echoed


async def test_a_refused_training_result_carries_its_notice_and_stores_nothing() -> None:
    store = FakeArtifactStore()
    corrupt = await store.put(b"\x08\x07 definitely not onnx")
    uow = UnitOfWork(conn=cast(Any, None), source="registry")  # refused before any SQL
    completed = training(artifact=corrupt)
    registrar = Registrar(ArtifactSources(store), RegistrySettings())
    with pytest.raises(Refused) as caught:
        await registrar.register_claimed(uow, doors.from_training(completed), completed)
    refused = caught.value
    assert refused.status_code == 422 and refused.detail == {"failed_checks": ["onnx_parse"]}
    [notice] = refused.notices
    assert isinstance(notice, ModelRegistrationFailed)
    assert (notice.source, notice.reference, notice.failed_checks) == (
        "trainer",
        "req-1",
        ["onnx_parse"],
    )
    assert list(store.blobs) == [corrupt.sha256]  # only what the trainer had put there


def test_size_alone_is_413_anything_else_422() -> None:
    assert Refusal.of(Check.SIZE, "big").status_code == 413
    assert Refusal({Check.SIZE: "big", Check.DIGEST: "wrong"}).status_code == 422
    assert Refusal.of(Check.DOMAINS, "x").reason == "operator_domains: x"


@pytest.mark.parametrize(
    "carrier", [TrainingCompleted, ModelSubmitted, doors.UploadMetadata, ModelRegistered]
)
def test_every_door_and_the_announcement_describe_a_model_alike(carrier: type[Any]) -> None:
    assert set(DESCRIPTION) <= set(carrier.model_fields)
    assert set(DESCRIPTION) <= {f.name for f in dataclasses.fields(Candidate)}


def test_the_announcement_says_what_the_door_said() -> None:
    completed = training()
    candidate = doors.from_training(completed)
    signature = ModelSignature(inputs=[], outputs=[])
    registered = candidate.registered(version=5, parent_version=4, artifact=REF,
                                      signature=signature, reference_profile=None)  # fmt: skip
    assert description_of(registered) == description_of(completed)
    assert (registered.source, registered.training_job_id, registered.registered_by) == (
        "trainer",
        "job-1",
        "trainer",
    )


def test_the_trainer_measured_its_evidence_and_anybody_else_only_claims_theirs() -> None:
    ref = ArtifactRef(uri="memory://x", sha256="a" * 64, size=1)
    signature = ModelSignature(inputs=[], outputs=[])
    completed = training()
    from_trainer = doors.from_training(completed).registered(
        version=1, parent_version=None, artifact=ref, signature=signature, reference_profile=None
    )
    assert from_trainer.measured is not None and from_trainer.measured.by == "trainer"
    assert from_trainer.measured.metrics == completed.metrics and from_trainer.claimed is None

    said = doors.UploadMetadata(task="classification", metrics={"accuracy": 0.99},
                                parity_passed=True)  # fmt: skip
    uploaded = doors.from_upload("m", said, "dana").registered(
        version=1, parent_version=None, artifact=ref, signature=signature, reference_profile=None
    )
    assert uploaded.measured is None and (uploaded.metrics, uploaded.parity_passed) == ({}, False)
    assert uploaded.claimed is not None and uploaded.claimed.metrics == {"accuracy": 0.99}
