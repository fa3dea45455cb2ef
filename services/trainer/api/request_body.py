"""An HTTP body becomes a training request, or a 400 that says why not."""

from __future__ import annotations

import uuid
from typing import Any

from pydantic import ValidationError

from services.trainer.training.bounds import Caps, cap_setting, check_request
from services.trainer.training.errors import CapExceeded
from shared.errors import InvalidInput, describe_validation
from shared.events.training import TrainingRequested
from shared.http.auth import Principal
from shared.store.sources import ArtifactSources


class BeyondCaps(InvalidInput):
    """A request that asks for more than the trainer's caps allow; names the cap."""

    status_code = 422
    code = "cap_exceeded"


def parse_request(
    body: dict[str, Any], principal: Principal, sources: ArtifactSources, caps: Caps
) -> TrainingRequested:
    """A request from an HTTP body: ``request_id`` defaults to a fresh one (send your own
    to make retries idempotent), ``metadata.owner`` to the caller. A dataset it names
    must be in ``sources``: :class:`SourceRefused` (422) otherwise, before anything is read.
    A request beyond ``caps`` is :class:`BeyondCaps` (422)."""
    body = {"request_id": uuid.uuid4().hex, **body}
    metadata = body.get("metadata")
    if isinstance(metadata, dict) and not metadata.get("owner"):
        body["metadata"] = {**metadata, "owner": principal.name}
    elif metadata is None:
        body["metadata"] = {"owner": principal.name}
    try:
        request = TrainingRequested.model_validate(body)
    except ValidationError as exc:
        problems = describe_validation(exc, root="(body)")
        raise InvalidInput(f"invalid training request: {problems}") from exc
    for ref in (request.dataset.artifact, request.extra_data):
        if ref is not None:
            sources.check(ref)
    try:
        check_request(request, caps)
    except CapExceeded as exc:
        setting = cap_setting(exc.cap) if hasattr(caps, exc.cap) else None
        detail: dict[str, object] = {"cap": exc.cap, "limit": exc.limit, "setting": setting}
        raise BeyondCaps(str(exc), detail=detail) from exc
    _check_feasible(request)
    return request


def _check_feasible(request: TrainingRequested) -> None:
    """Refuse now what the job would refuse later (metric, algorithms, hyperparameters)."""
    # Imported here: scikit-learn takes seconds to load, and only this check needs it.
    from services.trainer.training.candidates import resolve
    from services.trainer.training.errors import RequestError
    from services.trainer.training.metrics import resolve_metric

    try:
        resolve_metric(request.metric, request.task)
        resolve(request.candidates, request.task)
    except RequestError as exc:
        raise InvalidInput(str(exc)) from exc
