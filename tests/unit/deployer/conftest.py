"""Served versions built from real (small) ONNX models: no network, a few milliseconds each."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest

from services.deployer.runtime.batcher import MicroBatcher
from services.deployer.runtime.onnx_model import OnnxModel
from services.deployer.serving.table import ServedVersion
from tests.support.onnx_models import logistic_regression_onnx

MakeServed = Callable[..., ServedVersion]


@pytest.fixture
async def make_served() -> AsyncIterator[MakeServed]:
    made: list[ServedVersion] = []

    def make(
        version: int,
        *,
        name: str = "m",
        onnx: bytes | None = None,
        redact: frozenset[str] = frozenset(),
    ) -> ServedVersion:
        model = OnnxModel.build(
            onnx or logistic_regression_onnx().onnx, intra_op_threads=1, inter_op_threads=1
        )
        model.warm_up(8)
        batcher = MicroBatcher(model, max_batch_rows=8, max_wait_s=0.0, inline=True)
        served = ServedVersion(name, version, model, batcher, redact)
        made.append(served)
        return served

    yield make
    for served in made:
        await served.batcher.close()
