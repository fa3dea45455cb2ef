"""A training request over a CSV written for the test, as a client would announce it."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from services.trainer.training.train import Inputs
from shared.events.common import ArtifactRef
from shared.events.training import DatasetSpec, TrainingRequested


def csv_request(
    path: Path,
    data: bytes,
    *,
    model: str,
    target: str,
    algorithm: str,
    schema: dict[str, str] | None = None,
    **fields: Any,
) -> Inputs:
    path.write_bytes(data)
    artifact = ArtifactRef(
        uri=path.as_uri(), sha256=hashlib.sha256(data).hexdigest(), size=len(data)
    )
    request = TrainingRequested(
        request_id="r1",
        model_name=model,
        task="classification",
        target=target,
        dataset=DatasetSpec(artifact=artifact, format="csv", schema=schema),
        candidates=[{"algorithm": algorithm}],
        **fields,
    )
    return Inputs(request, path)
