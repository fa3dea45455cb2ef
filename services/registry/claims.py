"""Loading what a claim check names, where every way it can fail becomes a refusal."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol

from services.registry.domain.refusal import Check, Refusal
from shared.errors import ArtifactCorrupt, InvalidInput, NotFound, PayloadTooLarge, Unavailable
from shared.events.common import ArtifactRef
from shared.events.registry import EvaluationData
from shared.store.sources import ArtifactSources, SourceRefused


class ClaimCheck(Protocol):
    """What a door's event names instead of carrying bytes: the model and its profile."""

    @property
    def artifact(self) -> ArtifactRef: ...

    @property
    def reference_profile(self) -> ArtifactRef | None: ...


async def load_claims(
    claim: ClaimCheck, sources: ArtifactSources, *, max_bytes: int
) -> tuple[bytes, bytes | None]:
    """The model's bytes and its reference profile's, if the event names one; both are
    held against the sources' rules before either is read."""
    named = [("artifact", claim.artifact)]
    if claim.reference_profile is not None:
        named.append(("reference profile", claim.reference_profile))
    for what, ref in named:
        check_claim(ref, sources, what)
    loaded = [await load_claim(ref, sources, max_bytes=max_bytes, what=what) for what, ref in named]
    return loaded[0], loaded[1] if len(loaded) > 1 else None


async def load_claim(
    ref: ArtifactRef, sources: ArtifactSources, *, max_bytes: int, what: str = "artifact"
) -> bytes:
    """The bytes ``ref`` names, digest verified, never more than ``max_bytes`` read.

    Where bytes may come from and how much is read is :mod:`shared.store.sources`'s to
    decide; here each way it says no becomes the check that failed. An unreachable source
    is a refusal too: a submission does not hold the registry's consumer while somebody
    else's server is down (the submitter sends it again).
    """
    with _as_refusal(what):
        return await sources.fetch(ref, max_bytes=max_bytes)


def evaluation_claims(evaluation: EvaluationData | None) -> list[tuple[str, ArtifactRef]]:
    if evaluation is None:
        return []
    named = [("evaluation data", evaluation.data)]
    if evaluation.reference_predictions is not None:
        named.append(("reference predictions", evaluation.reference_predictions))
    return named


async def load_evaluation(
    evaluation: EvaluationData | None, sources: ArtifactSources, *, max_bytes: int
) -> tuple[bytes, bytes | None] | None:
    """The evaluation data's bytes and the reference predictions', digests verified."""
    if evaluation is None:
        return None
    loaded = [
        await load_claim(ref, sources, max_bytes=max_bytes, what=what)
        for what, ref in evaluation_claims(evaluation)
    ]
    return loaded[0], loaded[1] if len(loaded) > 1 else None


def check_claim(ref: ArtifactRef, sources: ArtifactSources, what: str) -> None:
    """Refuse now, before anything is read, a claim check no source rule allows."""
    with _as_refusal(what):
        sources.check(ref)


@contextmanager
def _as_refusal(what: str) -> Iterator[None]:
    try:
        yield
    except SourceRefused as exc:
        raise Refusal.of(Check.SOURCE, f"{what}: {exc.message}") from exc
    except PayloadTooLarge as exc:
        raise Refusal.of(Check.SIZE, f"{what}: {exc.message}") from exc
    except ArtifactCorrupt as exc:
        raise Refusal.of(Check.DIGEST, f"{what}: {exc.message}") from exc
    except (NotFound, InvalidInput, Unavailable) as exc:
        raise Refusal.of(Check.FETCH, f"{what}: {exc.message}") from exc
