"""Turning a finished training run into artifacts in the store and the outcome event."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from services.trainer.store.jobs import Claim
from services.trainer.training.process import ARTIFACTS
from shared.events.common import ArtifactRef
from shared.events.training import CandidateResult, TrainingCompleted, TrainingFailed
from shared.store.artifacts import ArtifactStore

ONNX_MEDIA_TYPE = "application/onnx"


async def store_outputs(store: ArtifactStore, workdir: Path) -> dict[str, ArtifactRef]:
    """Put the run's artifacts in the store. The profile names the reference sample by
    claim check, so the monitor finds both from the one reference in the event."""

    def read(field: str) -> bytes:
        return (workdir / ARTIFACTS[field]).read_bytes()

    refs = {
        "model": await store.put(read("model"), ONNX_MEDIA_TYPE),
        "reference_sample": await store.put(read("reference_sample"), "text/csv"),
        "importance": await store.put(read("importance"), "application/json"),
    }
    profile = orjson.loads(read("profile"))
    profile["reference_sample"] = refs["reference_sample"].model_dump(mode="json")
    refs["profile"] = await store.put(orjson.dumps(profile), "application/json")
    return refs


def completed_event(
    claim: Claim, summary: dict[str, Any], refs: dict[str, ArtifactRef], duration_s: float
) -> TrainingCompleted:
    request = claim.request
    return TrainingCompleted(
        request_id=request.request_id,
        job_id=claim.job_id,
        model_name=request.model_name,
        task=request.task,
        algorithm=summary["algorithm"],
        artifact=refs["model"],
        metrics=summary["metrics"],
        params=summary["params"],
        candidates=[CandidateResult(**c) for c in summary["candidates"]],
        dataset_sha256=summary["dataset_sha256"],
        reference_profile=refs["profile"],
        feature_importance=summary["feature_importance"],
        fairness=summary["fairness"],
        # The training process fails the run on a parity mismatch, so any result is one
        # whose export matched scikit-learn on the holdout.
        parity_passed=True,
        duration_s=duration_s,
        metadata=request.metadata,
        parent_version=request.parent_version,
        reason=request.reason,
        importance=refs["importance"],
        reference_sample=refs["reference_sample"],
        requested_by=request.requested_by,
    )


def failed_event(claim: Claim, reason: str, error_class: str) -> TrainingFailed:
    return TrainingFailed(
        request_id=claim.request.request_id,
        job_id=claim.job_id,
        model_name=claim.request.model_name,
        reason=reason[:4000],
        error_class=error_class,
    )
