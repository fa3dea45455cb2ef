"""One minimal valid payload per topic, written by hand so that a contract change shows here.

A topic added to the table without a sample here fails ``test_every_topic_has_a_sample``.
"""

from __future__ import annotations

from shared.events.common import (
    ArtifactRef,
    CheckResult,
    DeploymentStrategy,
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
from shared.events.governance import (
    AuditRecord,
    Decision,
    ModelApproved,
    ModelRejected,
    ModelRetired,
    ModelSuspended,
    ReviewRequested,
)
from shared.events.monitoring import (
    AlertResolved,
    DriftDetected,
    FeatureDrift,
    Label,
    LabelsReceived,
    MonitorMetrics,
    PerformanceDegraded,
)
from shared.events.registry import ModelRegistered, ModelRegistrationFailed, ModelSubmitted
from shared.events.training import (
    CandidateResult,
    DatasetSpec,
    TrainingCompleted,
    TrainingFailed,
    TrainingRequested,
)

MODEL = "iris-classifier"
DIGEST = "0" * 64
ARTIFACT = ArtifactRef(uri=f"file:///artifacts/{DIGEST}", sha256=DIGEST, size=1234)
WINDOW = Window(start="2025-01-01T00:00:00Z", end="2025-01-01T01:00:00Z", count=100)
DECISION = Decision(
    policy="default",
    policy_version="1",
    policy_digest=DIGEST,
    checks=[CheckResult(name="accuracy", passed=True, value=0.97, threshold=0.9)],
)
SIGNATURE = ModelSignature(
    inputs=[TensorSpec(name="input", datatype="FP32", shape=[-1, 4])],
    outputs=[TensorSpec(name="label", datatype="INT64", shape=[-1])],
)
DRIFT = FeatureDrift(
    feature="petal_length",
    method="psi",
    statistic=0.4,
    threshold=0.2,
    drifted=True,
    reference_n=500,
    current_n=100,
)

SAMPLES: dict[str, Payload] = {
    "training.requested": TrainingRequested(
        request_id="r-1",
        model_name=MODEL,
        dataset=DatasetSpec(builtin="iris"),
        task="classification",
    ),
    "training.completed": TrainingCompleted(
        request_id="r-1",
        job_id="j-1",
        model_name=MODEL,
        task="classification",
        algorithm="logistic_regression",
        artifact=ARTIFACT,
        metrics={"accuracy": 0.97},
        params={"C": 1.0},
        candidates=[
            CandidateResult(
                algorithm="logistic_regression", params={"C": 1.0}, cv_score=0.96, cv_std=0.01
            )
        ],
        dataset_sha256=DIGEST,
        parity_passed=True,
        duration_s=1.5,
    ),
    "training.failed": TrainingFailed(
        request_id="r-1", model_name=MODEL, reason="no rows", error_class="InvalidInput"
    ),
    "model.submitted": ModelSubmitted(
        submission_id="s-1", model_name=MODEL, artifact=ARTIFACT, task="classification"
    ),
    "model.registered": ModelRegistered(
        model_name=MODEL,
        version=1,
        artifact=ARTIFACT,
        signature=SIGNATURE,
        task="classification",
        source="trainer",
    ),
    "model.registration_failed": ModelRegistrationFailed(
        model_name=MODEL, source="submission", reference="s-1", reason="digest mismatch"
    ),
    "review.requested": ReviewRequested(
        model_name=MODEL, version=1, required_approvals=1, decision=DECISION
    ),
    "model.approved": ModelApproved(
        model_name=MODEL, version=1, artifact=ARTIFACT, decision=DECISION
    ),
    "model.rejected": ModelRejected(
        model_name=MODEL, version=1, decision=DECISION, failed_checks=["accuracy"]
    ),
    "model.suspended": ModelSuspended(model_name=MODEL, version=1, reason="bias", actor="ops"),
    "model.retired": ModelRetired(model_name=MODEL, version=1, reason="replaced", actor="ops"),
    "model.deployed": ModelDeployed(
        model_name=MODEL,
        version=1,
        arm="stable",
        strategy=DeploymentStrategy(),
        weight=1.0,
        replica="deployer-0",
    ),
    "model.promoted": ModelPromoted(
        model_name=MODEL, version=2, previous_version=1, reason="canary healthy"
    ),
    "model.rolled_back": ModelRolledBack(
        model_name=MODEL, version=2, restored_version=1, reason="error rate"
    ),
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
    "drift.detected": DriftDetected(
        model_name=MODEL,
        version=1,
        arm="stable",
        alert_id="a-1",
        window=WINDOW,
        features=[DRIFT],
        top_features=["petal_length"],
    ),
    "performance.degraded": PerformanceDegraded(
        model_name=MODEL,
        version=1,
        arm="stable",
        alert_id="a-2",
        metric="accuracy",
        value=0.7,
        baseline=0.95,
        threshold=0.85,
        window=WINDOW,
    ),
    "monitor.alert_resolved": AlertResolved(
        model_name=MODEL, version=1, alert_id="a-1", kind="drift", window=WINDOW
    ),
    "monitor.metrics": MonitorMetrics(
        model_name=MODEL, version=1, arm="stable", window=WINDOW, metrics={"accuracy": 0.95}
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
        payload_sha256=DIGEST,
        prev_hash=DIGEST,
        hash=DIGEST,
    ),
}
