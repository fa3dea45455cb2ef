"""Registering a version: one validated path behind all three doors.

1. :meth:`Registrar.validate` runs every acceptance check in the sandbox process
   (:mod:`services.registry.sandbox`), and measures the model there when the door brought
   evaluation data; the registry's own process never builds an ONNX Runtime session;
2. :meth:`Registrar.record` stores the bytes, numbers the version under the model's row
   lock and emits ``model.registered``, all in the caller's transaction.

A refusal never stores anything (the artifact store is written only after every check
passed) and always tells the submitter: ``model.registration_failed`` plus, for an event,
a dead letter (:meth:`Registrar.register_claimed`), or, for an upload, a 4xx
(:meth:`Registrar.register_upload`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import structlog

from services.registry.claims import (
    ClaimCheck,
    check_claim,
    evaluation_claims,
    load_claims,
    load_evaluation,
)
from services.registry.domain.candidate import Candidate
from services.registry.domain.profile_claims import profile_claims
from services.registry.domain.refusal import Check, Refusal
from services.registry.domain.risk_tier import below_floor
from services.registry.sandbox.runner import Evaluation, Job, Sandbox
from services.registry.settings import RegistrySettings
from services.registry.store import risk_tiers, versions
from shared.bus.unit_of_work import Transactions, UnitOfWork
from shared.errors import Refused
from shared.events.common import ModelSignature
from shared.events.registry import EvaluationData, MeasuredEvidence, ModelRegistered
from shared.store.artifacts import sha256_hex
from shared.store.sources import ArtifactSources

log = structlog.get_logger(__name__)

ONNX_MEDIA_TYPE = "application/onnx"
PROFILE_MEDIA_TYPE = "application/json"


@dataclass(frozen=True)
class Validated:
    candidate: Candidate
    artifact: bytes
    signature: ModelSignature
    profile: bytes | None = None
    measured: MeasuredEvidence | None = None


@dataclass(frozen=True)
class Registrar:
    """The registration path with what every door needs: where claim checks may point
    and accepted bytes are stored (``sources.store``), and the registry's limits (size
    cap, validation threads, the sandbox's limits)."""

    sources: ArtifactSources
    settings: RegistrySettings
    sandbox: Sandbox = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "sandbox", Sandbox(self.settings))

    async def register_claimed(
        self,
        uow: UnitOfWork,
        candidate: Candidate,
        claim: ClaimCheck,
        evaluation: EvaluationData | None = None,
    ) -> None:
        """Register a version announced by claim check (a training result, a submission).

        A refusal raises :class:`Refused` carrying ``model.registration_failed``: the
        consumer dead-letters the event and emits that notice in one transaction, and rolls
        back what this handler wrote, so both happen exactly once and nothing of it is kept.
        """
        cap = self.settings.max_artifact_bytes
        try:
            for what, ref in evaluation_claims(evaluation):
                check_claim(ref, self.sources, what)
            artifact, profile = await load_claims(claim, self.sources, max_bytes=cap)
            loaded = await load_evaluation(
                evaluation, self.sources, max_bytes=self.settings.max_eval_bytes
            )
            data = None if loaded is None else Evaluation(*loaded)
            validated = await self.validate(candidate, artifact, profile, data)
            await self.record(uow, validated)
        except Refusal as refusal:
            raise refused(candidate, refusal) from refusal

    async def register_upload(
        self,
        transactions: Transactions,
        candidate: Candidate,
        artifact: bytes,
        profile: bytes | None,
        *,
        expected_sha256: str | None,
        evaluation: Evaluation | None = None,
    ) -> tuple[ModelRegistered, bool]:
        """Register uploaded bytes; validation runs before a connection is taken."""
        try:
            digest = sha256_hex(artifact)
            if expected_sha256 is not None and digest != expected_sha256:
                raise Refusal.of(Check.DIGEST, "upload's sha256 differs from the announced one")
            validated = await self.validate(candidate, artifact, profile, evaluation)
            async with transactions.begin() as uow:
                return await self.record(uow, validated)
        except Refusal as refusal:
            raise await refuse_upload(transactions, candidate, refusal) from refusal

    async def validate(
        self,
        candidate: Candidate,
        artifact: bytes,
        profile: bytes | None,
        evaluation: Evaluation | None = None,
    ) -> Validated:
        """Every check, and the measurement when ``evaluation`` is given, in the sandbox."""
        settings = self.settings
        cap = settings.max_artifact_bytes
        if len(artifact) > cap:
            raise Refusal.of(Check.SIZE, f"artifact is over the limit of {cap} bytes")
        if profile is not None and len(profile) > cap:
            raise Refusal.of(Check.SIZE, f"reference profile is over the limit of {cap} bytes")
        for ref in profile_claims(profile) if profile is not None else []:
            check_claim(ref, self.sources, "reference profile's reference_sample")
        if evaluation is not None:
            _check_evaluation(candidate, evaluation, settings.max_eval_bytes)
        job = Job(
            task=candidate.task,
            max_bytes=cap,
            threads=settings.validation_threads,
            max_rows=settings.max_eval_rows,
            target=candidate.eval_target,
            sensitive_attribute=candidate.metadata.sensitive_attribute,
            eval_sha256=None if evaluation is None else sha256_hex(evaluation.data),
        )
        outcome = await self.sandbox.run(artifact, job, evaluation)
        return Validated(candidate, artifact, outcome.signature, profile, outcome.measured)

    async def record(self, uow: UnitOfWork, validated: Validated) -> tuple[ModelRegistered, bool]:
        """Store, number and announce a validated version; ``(version, False)`` if its
        origin was registered before (nothing is emitted again).

        The parent is the one the producer named, else the version this one succeeds.
        """
        candidate, conn = validated.candidate, uow.conn
        parent = candidate.parent_version
        if parent is not None:
            if not 1 <= parent <= await versions.latest_version(conn, candidate.model_name):
                raise Refusal.of(Check.LINEAGE, f"parent version {parent} of "
                                 f"{candidate.model_name!r} does not exist")  # fmt: skip
        tier, floor = (
            candidate.metadata.risk_tier,
            await risk_tiers.floor(conn, candidate.model_name),
        )
        if below_floor(tier, floor):
            raise Refusal.of(Check.RISK_TIER, f"{candidate.model_name!r} is pinned at risk "
                             f"tier {floor!r}; a version at {tier!r} needs an approver to "
                             "lower the model's tier first")  # fmt: skip
        artifact = await self.sources.store.put(validated.artifact, ONNX_MEDIA_TYPE)
        profile = None
        if validated.profile is not None:
            profile = await self.sources.store.put(validated.profile, PROFILE_MEDIA_TYPE)

        latest = await versions.lock_model(conn, candidate.model_name)
        existing = await versions.find_by_origin(
            conn, candidate.model_name, candidate.source, candidate.origin
        )
        if existing is not None:
            log.info("registration.duplicate", origin=candidate.origin, version=existing.version)
            return existing, False
        registered = candidate.registered(
            version=latest + 1,
            parent_version=parent if parent is not None else (latest or None),
            artifact=artifact,
            signature=validated.signature,
            reference_profile=profile,
            measured=validated.measured,
        )
        event = await uow.emit(registered, subject=f"{registered.model_name}/{registered.version}")
        await versions.insert_version(conn, registered, origin=candidate.origin, event_id=event.id)
        log.info("registration.accepted", model=registered.model_name, version=registered.version,
                 source=candidate.source, sha256=artifact.sha256)  # fmt: skip
        return registered, True


def _check_evaluation(candidate: Candidate, evaluation: Evaluation, cap: int) -> None:
    if candidate.source == "trainer":
        raise Refusal.of(Check.EVALUATION, "the trainer measures its models itself")
    if candidate.eval_target is None:
        raise Refusal.of(Check.EVALUATION, "evaluation data needs the name of its target column")
    for what, data in (("evaluation data", evaluation.data),
                       ("reference predictions", evaluation.reference)):  # fmt: skip
        if data is not None and len(data) > cap:
            raise Refusal.of(Check.SIZE, f"{what} is over the limit of {cap} bytes")


async def refuse_upload(
    transactions: Transactions, candidate: Candidate, refusal: Refusal
) -> Refused:
    """Announce a refused upload; returns the error the caller raises (a 4xx)."""
    async with transactions.begin() as uow:
        await uow.emit(candidate.refused(refusal))
    return refused(candidate, refusal)


def refused(candidate: Candidate, refusal: Refusal) -> Refused:
    """The error that refuses ``candidate``, carrying the ``model.registration_failed`` notice."""
    log.warning("registration.refused", model=candidate.model_name, source=candidate.source,
                reference=candidate.reference, reason=refusal.reason[:500])  # fmt: skip
    return Refused(
        f"{candidate.model_name} refused: {refusal.reason}",
        notices=[candidate.refused(refusal)],
        status_code=refusal.status_code,
        detail={"failed_checks": [check.value for check in refusal.failures]},
    )
