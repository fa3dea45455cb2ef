"""One inference: route it, run it, answer it, and account for it.

Accounting (metrics, evidence on a candidate, the prediction log record) happens for every
inference that reached a model version, failures included, and costs a few appends: the
slow parts (publishing logs, recording verdicts, shadow runs) happen in other tasks.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import structlog

from services.deployer.metrics import SHADOW_SKIPPED
from services.deployer.runtime.codec import InferRequest, encode_response
from services.deployer.runtime.feeds import to_feeds
from services.deployer.serving.evidence import RolloutVerdict
from services.deployer.serving.prediction_log import PredictionLog
from services.deployer.serving.prediction_record import PredictionRecord
from services.deployer.serving.table import ServedModel, ServedVersion, ServingTable
from shared.errors import InvalidInput, ModelbusError

log = structlog.get_logger(__name__)


class InferenceFailed(ModelbusError):
    """The model raised while running this request."""

    status_code = 500
    code = "inference_failed"


@dataclass(frozen=True, slots=True)
class Answer:
    """What answers one request, before any protocol encodes it: ``outputs`` are (name,
    datatype, array, binary), ``binary`` being what the REST caller asked for."""

    model_name: str
    version: int
    id: str | None
    outputs: list[tuple[str, str, np.ndarray, bool]]


@dataclass
class Inference:
    table: ServingTable
    predictions: PredictionLog
    decide: Callable[[RolloutVerdict], None]
    shadow_max_in_flight: int = 256
    _shadows: set[asyncio.Task[None]] = field(default_factory=set)
    # Ids for requests that bring none: unique per process and cheap (no uuid per request).
    _id_prefix: str = field(default_factory=lambda: os.urandom(6).hex())
    _ids: itertools.count[int] = field(default_factory=itertools.count)

    async def infer(
        self,
        model_name: str,
        version: int | None,
        request: InferRequest,
        header: Callable[[str], str | None],
    ) -> tuple[bytes, int | None]:
        """The REST response body (and binary header length) for ``request``; raises a
        :class:`ModelbusError` with the right status for anything else."""
        answer = await self.answer(model_name, version, request, header)
        return encode_response(answer.model_name, answer.version, answer.id, answer.outputs)

    async def answer(
        self,
        model_name: str,
        version: int | None,
        request: InferRequest,
        header: Callable[[str], str | None],
    ) -> Answer:
        """Route ``request``, run it and account for it, whatever protocol brought it: the
        REST endpoint and the gRPC service differ only in how they decode and encode."""
        served = self.table.get(model_name)
        if version is None:
            sticky = served.sticky_header
            target, arm = served.route(header(sticky) if sticky else None)
        else:
            target = served.version(version)
            arm = "stable" if target is served.stable else (served.mode or "stable")
        request_id = request.id or f"{self._id_prefix}-{next(self._ids)}"
        outputs = await self._run(
            served, target, arm, request, request_id, evidence=version is None
        )
        chosen = request.outputs
        if chosen is None:
            selected = [
                (t.name, t.datatype, outputs[t.name], request.binary_output)
                for t in target.model.outputs
            ]
        else:
            selected = [
                (o.name, target.model.output_info[o.name].datatype, outputs[o.name], o.binary)
                for o in chosen
            ]
        if arm == "stable" and version is None and served.shadow is not None:
            self._mirror(served, served.shadow, request, request_id)
        return Answer(model_name, target.version, request.id, selected)

    async def _run(
        self,
        served: ServedModel,
        target: ServedVersion,
        arm: str,
        request: InferRequest,
        request_id: str,
        *,
        evidence: bool,
    ) -> dict[str, np.ndarray]:
        when = time.time()
        started = time.perf_counter()
        metrics = target.metrics(arm)
        feeds: dict[str, np.ndarray] = {}
        outputs: dict[str, np.ndarray] = {}
        error: str | None = "cancelled: the caller went away"
        model_failed = False
        try:
            for wanted in request.outputs or ():
                if wanted.name not in target.model.output_info:
                    raise InvalidInput(
                        f"unknown output {wanted.name!r}; the model has "
                        f"{', '.join(target.model.output_names)}"
                    )
            feeds, rows = to_feeds(request.inputs, target.model.input_by_name)
            try:
                results = await target.batcher.infer(feeds, rows)
            except Exception as exc:
                model_failed = True
                raise InferenceFailed(
                    f"model {target.model_name!r} version {target.version} "
                    f"failed: {type(exc).__name__}: {exc}"[:2000]
                ) from exc
            outputs = dict(zip(target.model.output_names, results, strict=True))
            error = None
            return outputs
        except ModelbusError as exc:
            error = exc.message
            (metrics.model_errors if model_failed else metrics.input_errors).inc()
            raise
        finally:
            latency_ms = (time.perf_counter() - started) * 1000
            (metrics.ok if error is None else metrics.failed).inc()
            metrics.latency.observe(latency_ms / 1000)
            self.predictions.add(
                PredictionRecord(
                    request_id,
                    target.model_name,
                    target.version,
                    arm,
                    when,
                    feeds,
                    outputs,
                    latency_ms,
                    error,
                    target.redact_fields,
                )
            )
            # A request the caller got wrong says nothing about the model.
            if evidence and served.evidence is not None and (error is None or model_failed):
                verdict = served.evidence.add(
                    candidate=target is served.candidate, ok=not model_failed, latency_ms=latency_ms
                )
                if verdict is not None:
                    self.decide(verdict)

    def _mirror(
        self, served: ServedModel, shadow: ServedVersion, request: InferRequest, request_id: str
    ) -> None:
        """Run the request on the shadow candidate too, after answering and off the request's
        path; its result is logged and counted as evidence, never returned."""
        if len(self._shadows) >= self.shadow_max_in_flight:
            SHADOW_SKIPPED.labels(served.name).inc()
            return
        task = asyncio.get_running_loop().create_task(
            self._shadow_run(served, shadow, request, request_id)
        )
        self._shadows.add(task)
        task.add_done_callback(self._shadows.discard)

    async def _shadow_run(
        self, served: ServedModel, shadow: ServedVersion, request: InferRequest, request_id: str
    ) -> None:
        try:
            await self._run(served, shadow, "shadow", request, request_id, evidence=True)
        except ModelbusError:
            pass  # already logged and counted; the caller had its answer from stable
