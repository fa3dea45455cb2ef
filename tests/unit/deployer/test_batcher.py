"""Micro-batching: concurrent requests share a run, each gets its own rows, failures stay local."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from services.deployer.runtime.batcher import BatcherClosed, MicroBatcher
from services.deployer.runtime.onnx_model import OnnxModel
from tests.support.onnx_models import logistic_regression_onnx
from tests.unit.deployer.models import failing_for_large_first_feature


def model(data: bytes | None = None) -> OnnxModel:
    built = OnnxModel.build(
        data or logistic_regression_onnx().onnx, intra_op_threads=1, inter_op_threads=1
    )
    built.warm_up(16)
    return built


@pytest.mark.parametrize("inline", [True, False])
async def test_concurrent_requests_are_batched_and_answered_row_by_row(inline: bool) -> None:
    built = logistic_regression_onnx()
    sizes: list[int] = []
    batcher = MicroBatcher(
        model(), max_batch_rows=16, max_wait_s=0.001, inline=inline, on_batch=sizes.append
    )
    X = built.X_holdout[:40]
    rows = [X[i : i + 1] if i % 3 else X[i : i + 2] for i in range(0, 40, 2)]
    answers = await asyncio.gather(*(batcher.infer({"X": r}, len(r)) for r in rows))
    reference = batcher.model
    for r, (labels, probabilities) in zip(rows, answers, strict=True):
        expected = reference.run({"X": r})
        np.testing.assert_array_equal(labels, expected[0])
        # A stacked run may take another SIMD path: equal up to float rounding.
        np.testing.assert_allclose(probabilities, expected[1], atol=1e-6)
    assert max(sizes) > 1, sizes  # concurrent requests shared runs
    assert sum(sizes) == len(rows)
    await batcher.close()


async def test_a_failing_input_fails_only_its_own_request() -> None:
    built = logistic_regression_onnx()
    batcher = MicroBatcher(
        model(failing_for_large_first_feature(built.onnx)),
        max_batch_rows=16,
        max_wait_s=0.001,
        inline=True,
    )
    good = np.zeros((1, 30), np.float32)
    bad = built.X_holdout[:1]  # first feature is far above the limit
    results = await asyncio.gather(
        batcher.infer({"X": good}, 1),
        batcher.infer({"X": bad}, 1),
        batcher.infer({"X": good}, 1),
        return_exceptions=True,
    )
    assert not isinstance(results[0], BaseException)
    assert isinstance(results[1], Exception) and "Gather" in str(results[1])
    assert not isinstance(results[2], BaseException)
    await batcher.close()


async def test_close_answers_what_was_queued_then_refuses() -> None:
    batcher = MicroBatcher(model(), max_batch_rows=4, max_wait_s=0.0, inline=False)
    queued = [
        asyncio.ensure_future(batcher.infer({"X": np.zeros((1, 30), np.float32)}, 1))
        for _ in range(10)
    ]
    await asyncio.sleep(0)
    await batcher.close()
    assert all(len(f.result()) == 2 for f in queued)
    with pytest.raises(BatcherClosed):
        await batcher.infer({"X": np.zeros((1, 30), np.float32)}, 1)


async def test_callers_that_go_away_do_not_stall_the_others() -> None:
    batcher = MicroBatcher(model(), max_batch_rows=4, max_wait_s=0.0, inline=False)
    row = {"X": np.zeros((1, 30), np.float32)}
    calls = [asyncio.ensure_future(batcher.infer(row, 1)) for _ in range(12)]
    await asyncio.sleep(0)
    calls[0].cancel()  # the leader's caller
    calls[5].cancel()  # a queued one
    done = await asyncio.gather(*calls, return_exceptions=True)
    assert isinstance(done[0], asyncio.CancelledError)
    assert isinstance(done[5], asyncio.CancelledError)
    assert all(isinstance(d, list) for i, d in enumerate(done) if i not in (0, 5))
    assert len(await batcher.infer(row, 1)) == 2  # still serving afterwards
    await batcher.close()
