"""Adaptive micro-batching of requests to one model version.

Requests queue; whoever runs the model takes everything queued (up to ``max_batch_rows``
rows), stacks it along the first axis, runs the session once and hands each request its
rows. Who runs it adapts to the load:

- idle: the arriving request runs the batch itself, after yielding once so that requests
  parsed in the same event-loop tick join it. No task hand-off, no waiting;
- busy (a batch is running and more arrive): they queue, and a drain task runs batch after
  batch until the queue is empty. While batches hold several requests, it waits up to
  ``max_wait_s`` for a batch to fill before running it.

If a stacked run fails, its requests are run one by one, so an input that makes the model
fail fails only its own request. Small models run on the event loop (a thread hand-off
costs more than their run); the others run in a single worker thread per version.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from services.deployer.runtime.onnx_model import OnnxModel

Outputs = list[np.ndarray]
_Item = tuple[dict[str, np.ndarray], "int | None", "asyncio.Future[Outputs]"]


class BatcherClosed(Exception):
    pass


class MicroBatcher:
    def __init__(
        self,
        model: OnnxModel,
        *,
        max_batch_rows: int,
        max_wait_s: float,
        inline: bool,
        on_batch: Callable[[int], None] = lambda _: None,
    ) -> None:
        self.model = model
        self.max_batch_rows = max_batch_rows
        self.max_wait_s = max_wait_s
        self.on_batch = on_batch
        self._queue: deque[_Item] = deque()
        self._executor = None if inline else ThreadPoolExecutor(1, "onnx-run")
        self._busy = False  # a request or the drain task is running batches
        self._idle = asyncio.Event()
        self._idle.set()
        self._closed = False
        self._last_batch = 1
        self._drain_task: asyncio.Task[None] | None = None

    async def infer(self, feeds: dict[str, np.ndarray], rows: int | None) -> Outputs:
        if self._closed:
            raise BatcherClosed("this model version was unloaded")
        future: asyncio.Future[Outputs] = asyncio.get_running_loop().create_future()
        self._queue.append((feeds, rows, future))
        if not self._busy:
            self._set_busy(True)
            try:
                await asyncio.sleep(0)  # requests parsed in this tick join the batch
                while not future.done() and self._queue:
                    await self._run(self._take())
            except asyncio.CancelledError:
                future.cancel()  # the caller went away: its queued request is skipped
                raise
            finally:
                self._set_busy(False)
                self._drain_if_queued()
        return await future

    def _set_busy(self, busy: bool) -> None:
        self._busy = busy
        if busy:
            self._idle.clear()
        elif not self._queue:
            self._idle.set()

    def _drain_if_queued(self) -> None:
        if self._queue and not self._busy:
            self._set_busy(True)
            self._drain_task = asyncio.get_running_loop().create_task(self._drain())

    async def _drain(self) -> None:
        try:
            while self._queue:
                if self._last_batch > 1 and self.max_wait_s > 0:
                    await self._fill()
                await self._run(self._take())
        finally:
            self._set_busy(False)
            self._drain_if_queued()

    async def _fill(self) -> None:
        """Concurrent traffic: give the batch up to ``max_wait_s`` to fill."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.max_wait_s
        while not self._closed and self._queued_rows() < self.max_batch_rows:
            remaining = deadline - loop.time()
            if remaining <= 0:
                return
            await asyncio.sleep(min(remaining, 0.0002))

    async def close(self) -> None:
        """Stop taking requests; those already queued are still answered."""
        self._closed = True
        self._drain_if_queued()
        await self._idle.wait()
        if self._executor is not None:
            self._executor.shutdown(wait=False)

    def _queued_rows(self) -> int:
        return sum(rows or self.max_batch_rows for _, rows, _ in self._queue)

    def _take(self) -> list[_Item]:
        first = self._queue.popleft()
        batch, rows = [first], first[1]
        if rows is not None and self.model.batchable:
            while self._queue:
                next_rows = self._queue[0][1]
                if next_rows is None or rows + next_rows > self.max_batch_rows:
                    break
                batch.append(self._queue.popleft())
                rows += next_rows
        self._last_batch = len(batch)
        self.on_batch(len(batch))
        return batch

    async def _run(self, batch: list[_Item]) -> None:
        if len(batch) > 1:
            try:
                stacked = {
                    name: np.concatenate([f[name] for f, _, _ in batch]) for name in batch[0][0]
                }
                outputs = await self._call(stacked)
            except Exception:
                pass  # one of them makes the model fail: find out which, below
            else:
                start = 0
                for _, rows, future in batch:
                    assert rows is not None
                    if not future.done():
                        future.set_result([o[start : start + rows] for o in outputs])
                    start += rows
                return
        for feeds, _, future in batch:
            if future.done():
                continue
            try:
                result = await self._call(feeds)
            except Exception as exc:
                if not future.done():
                    future.set_exception(exc)
            else:
                if not future.done():
                    future.set_result(result)

    async def _call(self, feeds: dict[str, np.ndarray]) -> Outputs:
        if self._executor is None:
            return self.model.run(feeds)
        return await asyncio.get_running_loop().run_in_executor(
            self._executor, self.model.run, feeds
        )
