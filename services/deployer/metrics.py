"""Prometheus metrics of the serving path, per model, version and arm."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import Counter, Gauge, Histogram

REQUESTS = Counter(
    "modelbus_inference_requests_total",
    "Inference requests answered",
    ["model", "version", "arm", "status"],
)
LATENCY = Histogram(
    "modelbus_inference_latency_seconds",
    "Inference latency inside the deployer",
    ["model", "version", "arm"],
    buckets=(0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0),
)
ERRORS = Counter(
    "modelbus_inference_errors_total",
    "Inference failures by kind",
    ["model", "version", "arm", "kind"],
)
BATCH_SIZE = Histogram(
    "modelbus_inference_batch_size",
    "Requests per session run",
    ["model", "version"],
    buckets=(1, 2, 4, 8, 16, 32, 64, 128),
)
LOADED = Gauge("modelbus_deployer_loaded_versions", "Model versions loaded in this replica")
LOAD_FAILURES = Counter(
    "modelbus_deployer_load_failures_total", "Failed loads of a model version", ["model", "stage"]
)
PREDICTION_LOGS_PUBLISHED = Counter(
    "modelbus_prediction_logs_published_total", "predictions.logged records published"
)
PREDICTION_LOGS_DROPPED = Counter(
    "modelbus_prediction_logs_dropped_total",
    "predictions.logged records dropped (buffer full or publish failed)",
    ["reason"],
)
GRPC_CALLS = Counter(
    "modelbus_grpc_calls_total",
    "Open Inference Protocol gRPC calls answered, by method and status code",
    ["method", "code"],
)
SHADOW_SKIPPED = Counter(
    "modelbus_shadow_skipped_total", "Mirrored requests skipped: too many in flight", ["model"]
)


@dataclass(frozen=True)
class ArmMetrics:
    """Label children resolved once per served version and arm, not on every request."""

    ok: Counter
    failed: Counter
    latency: Histogram
    model_errors: Counter
    input_errors: Counter

    @classmethod
    def of(cls, model: str, version: int, arm: str) -> ArmMetrics:
        labels = (model, str(version), arm)
        return cls(
            ok=REQUESTS.labels(*labels, "ok"),
            failed=REQUESTS.labels(*labels, "error"),
            latency=LATENCY.labels(*labels),
            model_errors=ERRORS.labels(*labels, "model"),
            input_errors=ERRORS.labels(*labels, "input"),
        )
