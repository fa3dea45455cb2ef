"""What the monitor keeps of a registered version: thresholds, reference profile, sample.

A version is always kept, so its traffic is counted; what it lacks or brought unusable
(unknown thresholds, no profile, a profile off the contract, a sample that does not fit)
is named in its ``problems`` and left out, never guessed. A reference that is read at
all is compiled here once, so that a bad one is refused now rather than in every window.
"""

from __future__ import annotations

from typing import Any

from services.monitor.analysis.monitored import NewVersion
from services.monitor.analysis.reference import compile_reference
from services.monitor.analysis.stats import FloatArray
from services.monitor.analysis.thresholds import thresholds_from
from shared.errors import InvalidInput, ModelbusError
from shared.events.reference_profile import parse_reference_profile
from shared.events.reference_sample import read_reference_sample
from shared.events.registry import ModelRegistered
from shared.store.sources import ArtifactSources


def _feature_names(payload: ModelRegistered) -> list[str]:
    names = payload.params.get("feature_names")
    return [str(n) for n in names] if isinstance(names, list) else []


async def enrol(
    registered: ModelRegistered, sources: ArtifactSources, max_profile_bytes: int
) -> NewVersion:
    """The version to store; only a transient failure (the store unreachable) raises.

    The profile and its sample are read through ``sources``: a profile naming a sample
    where no service may read from leaves the version without a reference."""
    p = registered
    problems: list[str] = []
    overrides: dict[str, Any] = dict(p.metadata.monitor_thresholds)
    try:
        _, unknown = thresholds_from(overrides)
        if unknown:
            problems.append(f"unknown monitor_thresholds ignored: {', '.join(unknown)}")
    except InvalidInput as exc:
        problems.append(f"{exc.message}; default thresholds used")
        overrides = {}
    names = _feature_names(p)
    target = str(p.params.get("target") or p.params.get("target_name") or "target")
    raw: bytes | None = None
    sample: FloatArray | None = None
    if p.reference_profile is None:
        problems.append("no reference profile: drift and data quality are not monitored")
    else:
        try:
            raw = await sources.fetch(p.reference_profile, max_bytes=max_profile_bytes)
            profile = parse_reference_profile(raw)
            if profile.reference_sample is not None:
                sample = read_reference_sample(
                    await sources.fetch(profile.reference_sample, max_bytes=max_profile_bytes),
                    profile.feature_names,
                )
            compile_reference(profile, sample)
            names = profile.feature_names
            target = profile.target.name if profile.target else target
        except ModelbusError as exc:
            if exc.retryable:
                raise
            problems.append(f"reference profile unusable: {exc.message}")
            raw = sample = None
    return NewVersion(
        model_name=p.model_name,
        version=p.version,
        task=p.task,
        feature_names=names,
        target_name=target,
        thresholds=overrides,
        profile=raw,
        sample=sample,
        baseline=dict(p.metrics),
        problems=problems,
    )
