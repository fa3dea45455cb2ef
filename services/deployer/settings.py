"""Deployer settings, read from ``MODELBUS_DEPLOYER_*`` environment variables."""

from __future__ import annotations

import fnmatch
import socket

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.settings import DEPLOYER_GRPC_PORT


class DeployerSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MODELBUS_DEPLOYER_", extra="ignore")

    # Names this replica's consumer group (every replica sees every lifecycle event) and the
    # ``replica`` of the events it emits. Keep it stable across restarts: a new id means a
    # new consumer group that replays the lifecycle topics from the beginning.
    replica_id: str | None = None
    # Which models this deployer pool serves (a glob on the model name): lets a fleet be
    # split into pools, and keeps test deployers sharing one database apart.
    models: str = "*"

    # ONNX Runtime threads per session; one intra-op thread per core is the usual optimum.
    intra_op_threads: int = Field(default=1, ge=1)
    inter_op_threads: int = Field(default=1, ge=1)
    # Micro-batching: at most this many rows (one-row requests: requests) per session run;
    # wait up to this long for more, but only while batches show concurrent traffic.
    max_batch_size: int = Field(default=32, ge=1)
    max_batch_wait_ms: float = Field(default=0.5, ge=0.0)
    # Models whose warm-up shows a full batch running faster than this run on the event loop:
    # below it, handing the batch to a thread costs more than running it.
    inline_run_max_ms: float = Field(default=0.5, ge=0.0)

    max_body_bytes: int = Field(default=8 * 1024 * 1024, ge=1024)
    # The Open Inference Protocol over gRPC, beside REST (0: any free port, as tests use;
    # None: not served). Messages are held to max_body_bytes like REST bodies; calls past
    # grpc_max_in_flight are refused at once (RESOURCE_EXHAUSTED) rather than queued.
    grpc_port: int | None = Field(default=DEPLOYER_GRPC_PORT, ge=0, le=65535)
    grpc_host: str | None = None  # None: the HTTP server's host (MODELBUS_HTTP_HOST)
    grpc_max_in_flight: int = Field(default=512, ge=1)
    # On shutdown, calls already accepted get this long to finish.
    grpc_grace_s: float = Field(default=5.0, ge=0.0)
    max_artifact_bytes: int = Field(default=512 * 1024 * 1024, ge=1)
    reconcile_interval_s: float = Field(default=0.25, gt=0.0)
    concurrent_loads: int = Field(default=2, ge=1)
    load_retry_max_s: float = Field(default=30.0, gt=0.0)

    prediction_log_enabled: bool = True
    prediction_log_buffer: int = Field(default=100_000, ge=1)
    prediction_log_batch: int = Field(default=1_000, ge=1)
    prediction_log_flush_ms: float = Field(default=50.0, gt=0.0)

    # Requests allocate many short-lived containers: with CPython's default (700) a young
    # collection runs every few requests. 0 leaves the collector alone.
    gc_young_threshold: int = Field(default=10_000, ge=0)

    shadow_max_in_flight: int = Field(default=256, ge=1)
    # Mean latencies below this floor count as the floor when comparing a candidate with
    # the stable version: sub-millisecond jitter is not evidence of a slower model.
    latency_floor_ms: float = Field(default=1.0, ge=0.0)

    def replica(self, port: int) -> str:
        return self.replica_id or f"{socket.gethostname()}-{port}"

    def serves(self, model_name: str) -> bool:
        return fnmatch.fnmatchcase(model_name, self.models)
