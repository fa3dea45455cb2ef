"""Loading one approved version: fetch by claim check, verify, build a session, warm it up.

The blocking parts (session creation, warm-up) run in a worker thread so the event loop
keeps serving. A failure says at which stage it happened and whether trying again can help
(an unreachable store can come back; a wrong digest or a broken graph cannot).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import httpx

from services.deployer.runtime.onnx_model import ModelUnusable, OnnxModel
from services.deployer.state.approvals import FailureStage
from shared.bus.retry import is_transient
from shared.errors import ArtifactCorrupt, ModelbusError
from shared.events.common import ArtifactRef
from shared.store.artifacts import ArtifactStore
from shared.store.sources import ArtifactSources


@dataclass(frozen=True)
class SessionOptions:
    intra_op_threads: int
    inter_op_threads: int
    max_batch_rows: int


class LoadFailed(Exception):
    def __init__(self, stage: FailureStage, reason: str, *, retryable: bool = False) -> None:
        super().__init__(f"{stage}: {reason}")
        self.stage = stage
        self.reason = reason
        self.retryable = retryable


async def load_model(
    ref: ArtifactRef, store: ArtifactStore, options: SessionOptions, *, max_bytes: int
) -> OnnxModel:
    """A warmed-up model from ``ref``, which must name bytes the artifact store holds: only
    what the registry validated and stored is served, whatever the bus says."""
    try:
        data = await ArtifactSources(store).fetch(ref, max_bytes=max_bytes)
    except ArtifactCorrupt as exc:
        raise LoadFailed("verify", exc.message) from exc
    except ModelbusError as exc:
        raise LoadFailed("fetch", exc.message, retryable=exc.retryable) from exc
    except Exception as exc:
        transient = is_transient(exc) or isinstance(exc, httpx.TransportError)
        raise LoadFailed("fetch", f"{type(exc).__name__}: {exc}", retryable=transient) from exc
    try:
        model = await asyncio.to_thread(
            OnnxModel.build,
            data,
            intra_op_threads=options.intra_op_threads,
            inter_op_threads=options.inter_op_threads,
        )
    except Exception as exc:
        raise LoadFailed("session", f"{type(exc).__name__}: {exc}") from exc
    try:
        await asyncio.to_thread(model.warm_up, options.max_batch_rows)
    except ModelUnusable as exc:
        raise LoadFailed("warmup", str(exc)) from exc
    return model
