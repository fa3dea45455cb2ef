"""Payloads for tests: one factory per payload the tests build, and one sample per topic.

Written by hand, not derived from the models, so that a contract change shows here. The
defaults pass the default policy's low risk tier; arguments name what a test cares about.
A topic added to the table without a sample fails ``test_every_topic_has_a_sample``.
"""

from __future__ import annotations

import atexit
import itertools
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from shared.events.common import (
    ArtifactRef,
    CheckResult,
    DeploymentStrategy,
    ModelMetadata,
    ModelSignature,
    Payload,
    TensorSpec,
    Window,
)
from shared.events.deployment import (
    DeploymentFailed,
    ModelDeployed,
    ModelPromoted,
    ModelRolledBack,
    PredictionLogged,
)
from shared.events.envelope import Event, new_event
from shared.events.governance import (
    AuditCheckpoint,
    AuditRecord,
    Decision,
    ModelApproved,
    ModelRejected,
    ModelRetired,
    ModelSuspended,
    ReviewRequested,
)
from shared.events.identity import TokenIssued, TokenRevoked
from shared.events.monitoring import (
    AlertResolved,
    DriftDetected,
    FeatureDrift,
    Label,
    LabelsReceived,
    MonitorMetrics,
    MultivariateDrift,
    PerformanceDegraded,
)
from shared.events.registry import (
    MeasuredEvidence,
    ModelRegistered,
    ModelRegistrationFailed,
    ModelSubmitted,
    RiskTierLowered,
)
from shared.events.signing import DecisionSigner, generate_private_key_pem
from shared.events.topics import topic_for_payload
from shared.events.training import (
    CandidateResult,
    DatasetSpec,
    TrainingCompleted,
    TrainingFailed,
    TrainingRequested,
)

# Governance's key in tests: every test service trusts it (tests/conftest.py), every test
# governance signs with it, and decisions tests publish themselves are signed with it.
SIGNING_KEY_PEM = generate_private_key_pem()
SIGNER = DecisionSigner.from_pem(SIGNING_KEY_PEM)
DECISION_KEY = SIGNER.public_key_text
SIGNING_KEY_FILE = Path(tempfile.gettempdir()) / f"modelbus-test-decisions-{os.getpid()}.pem"
SIGNING_KEY_FILE.write_bytes(SIGNING_KEY_PEM)
SIGNING_KEY_FILE.chmod(0o600)
atexit.register(SIGNING_KEY_FILE.unlink, missing_ok=True)  # a private key, even a test's
# Above any sequence number a test governance reaches: tests' own decisions come later.
_govseq = itertools.count(time.time_ns() // 1000)


def next_govseq() -> int:
    return next(_govseq)


def signed(
    item: Payload | Event[Any],
    *,
    govseq: int | None = None,
    signer: DecisionSigner = SIGNER,
    source: str = "governance",
) -> Event[Any]:
    """A decision as governance would publish it: signed, with a new sequence number
    unless told (a test replaying or reordering decisions names its own)."""
    event = item if isinstance(item, Event) else new_event(item, source=source)
    return signer.sign(event, govseq if govseq is not None else next_govseq())


def is_decision(payload: Payload) -> bool:
    return topic_for_payload(payload).signed


MODEL = "iris-classifier"
SHA = "ab" * 32
WINDOW = Window(start="2025-01-01T00:00:00Z", end="2025-01-01T01:00:00Z", count=300)
SIGNATURE = ModelSignature(
    inputs=[TensorSpec(name="input", datatype="FP32", shape=[-1, 4])],
    outputs=[TensorSpec(name="label", datatype="INT64", shape=[-1])],
)
HIGH_RISK = {
    "risk_tier": "high",
    "owner": "olivia",
    "team": "credit",
    "description": "Scores loan applications",
    "intended_use": "Pre-screening of consumer loans; a person takes the final decision",
}


def artifact(name: str = MODEL, version: int = 1) -> ArtifactRef:
    return ArtifactRef(uri=f"file:///artifacts/{name}-{version}.onnx", sha256=SHA, size=1234)


def decision(
    *, checks: list[CheckResult] | None = None, strategy: DeploymentStrategy | None = None
) -> Decision:
    return Decision(
        policy="default",
        policy_version="1",
        policy_digest=SHA,
        checks=[CheckResult(name="accuracy", passed=True, value=0.97, threshold=0.9)]
        if checks is None
        else checks,
        strategy=strategy or DeploymentStrategy(),
    )


def trained(name: str = MODEL) -> TrainingCompleted:
    return TrainingCompleted(
        request_id=f"req-{name}",
        job_id=f"job-{name}",
        model_name=name,
        task="classification",
        algorithm="logistic_regression",
        artifact=artifact(name),
        metrics={"accuracy": 0.95},
        params={"C": 1.0},
        candidates=[
            CandidateResult(
                algorithm="logistic_regression", params={"C": 1.0}, cv_score=0.94, cv_std=0.01
            )
        ],
        dataset_sha256="cd" * 32,
        parity_passed=True,
        duration_s=1.5,
    )


def registered(
    name: str = MODEL,
    version: int = 1,
    *,
    accuracy: float = 0.95,
    metadata: dict[str, Any] | None = None,
    fairness: dict[str, float] | None = None,
    parity: bool = True,
    **extra: Any,
) -> ModelRegistered:
    meta = {"owner": "olivia", "risk_tier": "low", **(metadata or {})}
    metrics = {"accuracy": accuracy, "f1": accuracy - 0.01}
    measured = MeasuredEvidence(
        by="trainer", metrics=metrics, fairness=fairness or {}, parity_passed=parity
    )
    return ModelRegistered(
        model_name=name,
        version=version,
        artifact=extra.pop("artifact", artifact(name, version)),
        signature=SIGNATURE,
        task="classification",
        source=extra.pop("source", "trainer"),
        metrics=extra.pop("metrics", metrics),
        metadata=ModelMetadata(**meta),
        fairness=fairness or {},
        parity_passed=parity,
        registered_by=extra.pop("registered_by", "registry"),
        measured=extra.pop("measured", measured),
        dataset_sha256="cd" * 32,
        feature_importance={"petal_length": 0.6, "sepal_width": 0.1},
        **extra,
    )


def approved(
    name: str = MODEL,
    version: int = 1,
    *,
    artifact_ref: ArtifactRef | None = None,
    strategy: DeploymentStrategy | None = None,
    redact: tuple[str, ...] = (),
) -> ModelApproved:
    return ModelApproved(
        model_name=name,
        version=version,
        artifact=artifact_ref or artifact(name, version),
        decision=decision(strategy=strategy),
        metadata=ModelMetadata(redact_fields=list(redact)),
    )


def suspended(name: str = MODEL, version: int = 1, reason: str = "bias found") -> ModelSuspended:
    return ModelSuspended(model_name=name, version=version, reason=reason, actor="alice")


def retired(name: str = MODEL, version: int = 1, reason: str = "end of life") -> ModelRetired:
    return ModelRetired(model_name=name, version=version, reason=reason, actor="ann")


def deployed(
    name: str = MODEL, version: int = 1, arm: str = "stable", weight: float = 1.0
) -> ModelDeployed:
    return ModelDeployed(
        model_name=name,
        version=version,
        arm=arm,
        strategy=DeploymentStrategy(kind="canary" if arm == "canary" else "replace"),
        weight=weight,
        replica="deployer-0",
    )


def promoted(name: str = MODEL, version: int = 2, previous: int | None = 1) -> ModelPromoted:
    return ModelPromoted(
        model_name=name,
        version=version,
        previous_version=previous,
        reason="canary healthy",
        evidence={"error_rate": 0.0},
    )


def rolled_back(name: str = MODEL, version: int = 2, restored: int | None = 1) -> ModelRolledBack:
    return ModelRolledBack(
        model_name=name, version=version, restored_version=restored, reason="error rate"
    )


def feature_drift(feature: str = "petal_length", statistic: float = 0.4) -> FeatureDrift:
    return FeatureDrift(
        feature=feature,
        method="psi",
        statistic=statistic,
        threshold=0.2,
        drifted=True,
        reference_n=500,
        current_n=300,
    )


def drift(
    name: str = MODEL,
    version: int = 1,
    *,
    arm: str = "stable",
    alert_id: str | None = None,
    features: list[FeatureDrift] | None = None,
    multivariate: MultivariateDrift | None = None,
) -> DriftDetected:
    found = [feature_drift()] if features is None else features
    return DriftDetected(
        model_name=name,
        version=version,
        arm=arm,
        alert_id=alert_id or f"alert-{name}",
        window=WINDOW,
        features=found,
        top_features=[f.feature for f in found],
        multivariate=multivariate,
    )


def degraded(
    name: str = MODEL, version: int = 1, *, arm: str = "stable", alert_id: str = "a-2"
) -> PerformanceDegraded:
    return PerformanceDegraded(
        model_name=name,
        version=version,
        arm=arm,
        alert_id=alert_id,
        metric="accuracy",
        value=0.7,
        baseline=0.95,
        threshold=0.85,
        window=WINDOW,
    )


SAMPLES: dict[str, Payload] = {
    "training.requested": TrainingRequested(
        request_id="r-1",
        model_name=MODEL,
        dataset=DatasetSpec(builtin="iris"),
        task="classification",
    ),
    "training.completed": trained(),
    "training.failed": TrainingFailed(
        request_id="r-1", model_name=MODEL, reason="no rows", error_class="InvalidInput"
    ),
    "model.submitted": ModelSubmitted(
        submission_id="s-1", model_name=MODEL, artifact=artifact(), task="classification"
    ),
    "model.registered": registered(),
    "model.registration_failed": ModelRegistrationFailed(
        model_name=MODEL, source="submission", reference="s-1", reason="digest mismatch"
    ),
    "model.risk_tier_lowered": RiskTierLowered(
        model_name=MODEL,
        risk_tier="low",
        previous="high",
        actor="token:0123456789ab",
        reason="scoped to internal use",
    ),
    "review.requested": ReviewRequested(
        model_name=MODEL, version=1, required_approvals=1, decision=decision()
    ),
    "model.approved": approved(),
    "model.rejected": ModelRejected(
        model_name=MODEL, version=1, decision=decision(), failed_checks=["accuracy"]
    ),
    "model.suspended": suspended(),
    "model.retired": ModelRetired(model_name=MODEL, version=1, reason="replaced", actor="ops"),
    "model.deployed": deployed(),
    "model.promoted": promoted(),
    "model.rolled_back": rolled_back(),
    "deployment.failed": DeploymentFailed(
        model_name=MODEL, version=1, stage="session", reason="bad graph"
    ),
    "predictions.logged": PredictionLogged(
        request_id="q-1",
        model_name=MODEL,
        version=1,
        arm="stable",
        time="2025-01-01T00:00:00Z",
        inputs={"input": [[5.1, 3.5, 1.4, 0.2]]},
        outputs={"label": [0]},
        latency_ms=1.2,
        status="ok",
    ),
    "labels.received": LabelsReceived(model_name=MODEL, labels=[Label(request_id="q-1", value=0)]),
    "drift.detected": drift(),
    "performance.degraded": degraded(),
    "monitor.alert_resolved": AlertResolved(
        model_name=MODEL, version=1, alert_id="a-1", kind="drift", window=WINDOW
    ),
    "monitor.metrics": MonitorMetrics(
        model_name=MODEL, version=1, arm="stable", window=WINDOW, metrics={"accuracy": 0.95}
    ),
    "auth.token_issued": TokenIssued(
        principal_id="token:0123456789ab",
        token_id="0123456789ab",
        name="ann",
        role="approver",
        created_by="cli",
    ),
    "auth.token_revoked": TokenRevoked(
        principal_id="token:0123456789ab", token_id="0123456789ab", revoked_by="cli"
    ),
    "governance.checkpoints": AuditCheckpoint(
        log="governance", seq=100, chain_hash=SHA, signature=SHA
    ),
    "governance.audit": AuditRecord(
        seq=1,
        time="2025-01-01T00:00:00Z",
        actor="policy",
        action="approved",
        model_name=MODEL,
        version=1,
        event_id="e-1",
        event_type="io.modelbus.model.approved.v1",
        payload_sha256=SHA,
        prev_hash=SHA,
        hash=SHA,
    ),
}
