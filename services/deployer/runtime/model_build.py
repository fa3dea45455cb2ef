"""From verified model bytes to a warmed-up :class:`OnnxModel`, and how a load fails.

The blocking parts (session creation, warm-up) run in a worker thread so the event loop
keeps serving. A failure says at which stage it happened and whether trying again can help
(an unreachable store can come back; a wrong digest or a broken graph cannot).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Literal

from services.deployer.runtime.onnx_model import ModelUnusable, OnnxModel

FailureStage = Literal["fetch", "verify", "session", "warmup", "config"]


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


async def build_model(data: bytes, options: SessionOptions) -> OnnxModel:
    """A session on ``data`` (already fetched and verified), warmed up for full batches."""
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
