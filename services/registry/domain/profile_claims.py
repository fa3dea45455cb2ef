"""The claim checks a reference profile names inside itself (its ``reference_sample``).

A profile is the monitor's to interpret; the registry looks into it only for URIs, so a
profile (uploaded, submitted or trained) cannot name a place that no service may read
from: the registry refuses the version instead of the monitor finding out later.
"""

from __future__ import annotations

import orjson
from pydantic import ValidationError

from services.registry.domain.refusal import Check, Refusal
from shared.errors import describe_validation
from shared.events.common import ArtifactRef


def profile_claims(profile: bytes) -> list[ArtifactRef]:
    """The claim checks in ``profile``; none if it is not a JSON object (the monitor says
    what is wrong with such a profile when it reads it)."""
    try:
        doc = orjson.loads(profile)
    except orjson.JSONDecodeError:
        return []
    sample = doc.get("reference_sample") if isinstance(doc, dict) else None
    if sample is None:
        return []
    try:
        return [ArtifactRef.model_validate(sample)]
    except ValidationError as exc:
        problems = describe_validation(exc, root="reference_sample")
        raise Refusal.of(
            Check.SOURCE, f"reference profile: reference_sample is not a claim check: {problems}"
        ) from exc
