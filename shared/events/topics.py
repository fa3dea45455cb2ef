"""The topic table: every topic on the bus, its payload, its key, who produces and consumes it.

This table is the single source for topic creation at start-up, for decoding (CloudEvents
``type`` -> payload model), for the AsyncAPI document and for docs/ARCHITECTURE.md.
Every event is keyed by its model name so that all events of one model stay in order
on one partition.
"""

from __future__ import annotations

from dataclasses import dataclass

from shared.events.common import Payload
from shared.events.deployment import (
    DeploymentFailed,
    ModelDeployed,
    ModelPromoted,
    ModelRolledBack,
    PredictionLogged,
)
from shared.events.governance import (
    AuditCheckpoint,
    AuditRecord,
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
    LabelsReceived,
    MonitorMetrics,
    PerformanceDegraded,
)
from shared.events.registry import (
    ModelRegistered,
    ModelRegistrationFailed,
    ModelSubmitted,
    RiskTierLowered,
)
from shared.events.training import TrainingCompleted, TrainingFailed, TrainingRequested

EXTERNAL = "external systems"


@dataclass(frozen=True)
class Topic:
    name: str
    payload: type[Payload]
    producers: tuple[str, ...]
    consumers: tuple[str, ...]
    description: str
    partitions: int = 3
    version: int = 1
    key: str = "model_name"
    # A decision of governance: signed (shared/events/signing.py), and acted on only when
    # the signature verifies and its sequence number is new for its model.
    signed: bool = False

    @property
    def event_type(self) -> str:
        """The CloudEvents ``type`` of this topic's events, e.g. ``io.modelbus.model.registered.v1``."""
        return f"io.modelbus.{self.name}.v{self.version}"

    @property
    def dead_letter(self) -> str:
        return f"{self.name}.dlq"

    @property
    def public(self) -> bool:
        """Produced by systems outside modelbus: a public, validated contract."""
        return EXTERNAL in self.producers


LIFECYCLE = ("registry", "governance")  # consumers of every lifecycle event

_TABLE = [
    Topic(
        "training.requested",
        TrainingRequested,
        (EXTERNAL, "cli", "trainer"),
        ("trainer",),
        "Ask for a model to be trained; also the trainer's own retraining decisions.",
    ),
    Topic(
        "training.completed",
        TrainingCompleted,
        ("trainer",),
        ("registry", "governance"),
        "A training job produced a verified ONNX artifact.",
    ),
    Topic(
        "training.failed",
        TrainingFailed,
        ("trainer",),
        ("governance",),
        "A training job failed, with the reason.",
    ),
    Topic(
        "model.submitted",
        ModelSubmitted,
        (EXTERNAL,),
        ("registry",),
        "A model trained elsewhere, submitted by claim check for registration.",
    ),
    Topic(
        "model.registered",
        ModelRegistered,
        ("registry",),
        ("governance", "monitor", "registry", "deployer"),
        "A new model version passed validation and was registered.",
    ),
    Topic(
        "model.registration_failed",
        ModelRegistrationFailed,
        ("registry",),
        ("governance",),
        "A submission or training result was refused, with the reason.",
    ),
    Topic(
        "model.risk_tier_lowered",
        RiskTierLowered,
        ("registry",),
        ("governance",),
        "An approver lowered the risk tier a model's first version pinned, with the reason.",
    ),
    Topic(
        "review.requested",
        ReviewRequested,
        ("governance",),
        LIFECYCLE,
        "A version needs human approval before it may serve.",
        signed=True,
    ),
    Topic(
        "model.approved",
        ModelApproved,
        ("governance",),
        ("deployer", *LIFECYCLE),
        "A version may serve, with the decision and deployment strategy.",
        signed=True,
    ),
    Topic(
        "model.rejected",
        ModelRejected,
        ("governance",),
        LIFECYCLE,
        "A version may not serve, naming each failed check.",
        signed=True,
    ),
    Topic(
        "model.suspended",
        ModelSuspended,
        ("governance",),
        ("deployer", *LIFECYCLE),
        "Kill switch: a version must stop serving now.",
        signed=True,
    ),
    Topic(
        "model.retired",
        ModelRetired,
        ("governance",),
        ("deployer", *LIFECYCLE),
        "A version leaves service for good.",
        signed=True,
    ),
    Topic(
        "model.deployed",
        ModelDeployed,
        ("deployer",),
        ("monitor", *LIFECYCLE),
        "A version is loaded and serving on an arm.",
    ),
    Topic(
        "model.promoted",
        ModelPromoted,
        ("deployer",),
        LIFECYCLE,
        "A candidate became the stable version.",
    ),
    Topic(
        "model.rolled_back",
        ModelRolledBack,
        ("deployer",),
        LIFECYCLE,
        "A version was taken out of service and the previous one restored.",
    ),
    Topic(
        "deployment.failed",
        DeploymentFailed,
        ("deployer",),
        LIFECYCLE,
        "A version could not be loaded; the previous one keeps serving.",
    ),
    Topic(
        "predictions.logged",
        PredictionLogged,
        ("deployer",),
        ("monitor",),
        "One record per inference, failures included.",
        partitions=6,
    ),
    Topic(
        "labels.received",
        LabelsReceived,
        (EXTERNAL,),
        ("monitor",),
        "Ground truth for earlier predictions, joined by request id.",
        # As many as predictions.logged: a model's labels land on the same partition
        # number as its predictions (same key, same count), what co-partitioned
        # consumers need to see both on one replica.
        partitions=6,
    ),
    Topic(
        "drift.detected",
        DriftDetected,
        ("monitor",),
        ("trainer", "deployer", *LIFECYCLE),
        "Feature or prediction drift beyond threshold in a window.",
    ),
    Topic(
        "performance.degraded",
        PerformanceDegraded,
        ("monitor",),
        ("trainer", "deployer", *LIFECYCLE),
        "A performance metric on labelled traffic fell below threshold.",
    ),
    Topic(
        "monitor.alert_resolved",
        AlertResolved,
        ("monitor",),
        LIFECYCLE,
        "A drift or performance episode ended.",
    ),
    Topic(
        "monitor.metrics",
        MonitorMetrics,
        ("monitor",),
        ("deployer", EXTERNAL),
        "Windowed metrics per model version and arm; performance windows are a rollout's "
        "labelled evidence.",
    ),
    Topic(
        "governance.audit",
        AuditRecord,
        ("governance",),
        (EXTERNAL,),
        "The hash-chained audit trail, one record per lifecycle event, in order per model.",
    ),
    Topic(
        "governance.checkpoints",
        AuditCheckpoint,
        ("governance",),
        (EXTERNAL,),
        "Signed heads of the audit log's global chain, kept outside its database: "
        "`modelbus audit verify --against-topic` checks the log against them.",
        partitions=1,
        key="log",
    ),
    Topic(
        "auth.token_issued",
        TokenIssued,
        ("governance",),
        ("governance",),
        "An API token was issued (modelbus token create): written to the auth component's "
        "outbox with the token, relayed by governance, recorded in the audit log.",
        partitions=1,
        key="principal_id",
    ),
    Topic(
        "auth.token_revoked",
        TokenRevoked,
        ("governance",),
        ("governance",),
        "An API token was revoked (modelbus token revoke); audited like its issuance.",
        partitions=1,
        key="principal_id",
    ),
]

TOPICS: dict[str, Topic] = {t.name: t for t in _TABLE}
BY_EVENT_TYPE: dict[str, Topic] = {t.event_type: t for t in _TABLE}


SIGNED: frozenset[str] = frozenset(t.name for t in _TABLE if t.signed)


def topic(name: str) -> Topic:
    return TOPICS[name]


def consumed_by(service: str) -> tuple[str, ...]:
    """The topics ``service`` consumes, in table order: exactly the ones it has handlers for."""
    return tuple(t.name for t in _TABLE if service in t.consumers)


def used_by(service: str) -> list[Topic]:
    """The topics ``service`` produces or consumes: the ones its Kafka user may see."""
    return [t for t in _TABLE if service in t.producers or service in t.consumers]


def topic_for_payload(payload: Payload) -> Topic:
    for t in _TABLE:
        if type(payload) is t.payload:
            return t
    raise KeyError(f"no topic carries {type(payload).__name__}")
