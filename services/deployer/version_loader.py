"""The versions loaded in this replica: loading them in the background, retrying, unloading.

A load (fetch, verify, session, warm-up; blocking parts in threads) runs as its own task,
at most ``concurrent_loads`` at a time. One that fails for good fails a *pending* version
once (``deployment.failed``; the first replica to record it wins). A version that others
already serve, or a store that cannot be reached right now, is a local problem: it is
retried with capped exponential backoff.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable

import structlog

from services.deployer.metrics import BATCH_SIZE, LOAD_FAILURES, LOADED
from services.deployer.runtime.batcher import MicroBatcher
from services.deployer.runtime.model_build import LoadFailed, SessionOptions, build_model
from services.deployer.runtime.onnx_model import OnnxModel
from services.deployer.serving.route_builder import Key
from services.deployer.serving.table import ServedVersion
from services.deployer.settings import DeployerSettings
from services.deployer.store.approvals import fail
from services.deployer.store.desired_state import VersionRecord
from shared.bus.retry import is_transient
from shared.bus.unit_of_work import Transactions
from shared.errors import ArtifactCorrupt, ModelbusError
from shared.events.common import ArtifactRef
from shared.store.artifacts import ArtifactStore
from shared.store.sources import ArtifactSources

log = structlog.get_logger(__name__)


async def load_model(
    ref: ArtifactRef, store: ArtifactStore, options: SessionOptions, *, max_bytes: int
) -> OnnxModel:
    """Fetch ``ref`` by claim check, verify its digest, then build and warm its session.

    ``ref`` must name bytes the artifact store holds: only what the registry validated and
    stored is served, whatever the bus says (no configured source applies here)."""
    try:
        data = await ArtifactSources(store).fetch(ref, max_bytes=max_bytes)
    except ArtifactCorrupt as exc:
        raise LoadFailed("verify", exc.message) from exc
    except ModelbusError as exc:
        raise LoadFailed("fetch", exc.message, retryable=exc.retryable) from exc
    except Exception as exc:
        transient = is_transient(exc)
        raise LoadFailed("fetch", f"{type(exc).__name__}: {exc}", retryable=transient) from exc
    return await build_model(data, options)


class VersionLoader:
    def __init__(
        self,
        transactions: Transactions,
        store: ArtifactStore,
        config: DeployerSettings,
        *,
        finished: Callable[[], None],
    ) -> None:
        self.transactions = transactions
        self.store = store
        self.config = config
        self.finished = finished  # told after every load, whatever its outcome
        self.loaded: dict[Key, ServedVersion] = {}
        self._loading: dict[Key, asyncio.Task[None]] = {}
        self._closing: set[asyncio.Task[None]] = set()
        self._retry: dict[Key, tuple[int, float]] = {}  # attempts, not before (monotonic)
        self._slots = asyncio.Semaphore(config.concurrent_loads)
        self._options = SessionOptions(
            config.intra_op_threads, config.inter_op_threads, config.max_batch_size
        )

    def ensure(self, record: VersionRecord) -> None:
        """Start loading ``record`` unless it is loaded, loading, or waiting for a retry."""
        key = (record.model_name, record.version)
        if key in self.loaded or key in self._loading:
            return
        retry = self._retry.get(key)
        if retry is None or time.monotonic() >= retry[1]:
            self._loading[key] = asyncio.get_running_loop().create_task(self._load(record))

    async def wait_loading(self) -> None:
        await asyncio.gather(*self._loading.values(), return_exceptions=True)

    def unload_except(self, keep: set[Key]) -> None:
        """Unload every version not in ``keep``; requests it accepted are still answered."""
        for key in [k for k in self.loaded if k not in keep]:
            closing = asyncio.get_running_loop().create_task(self.loaded.pop(key).batcher.close())
            self._closing.add(closing)
            closing.add_done_callback(self._closing.discard)
            log.info("model.unloaded", model=key[0], version=key[1])
        for key in [k for k in self._retry if k not in keep]:
            del self._retry[key]
        LOADED.set(len(self.loaded))

    async def close(self) -> None:
        for task in list(self._loading.values()):
            task.cancel()
        for served in self.loaded.values():
            with contextlib.suppress(Exception):
                await served.batcher.close()

    async def _load(self, record: VersionRecord) -> None:
        key = (record.model_name, record.version)
        try:
            async with self._slots:
                model = await load_model(
                    record.artifact,
                    self.store,
                    self._options,
                    max_bytes=self.config.max_artifact_bytes,
                )
            batcher = MicroBatcher(
                model,
                max_batch_rows=self.config.max_batch_size,
                max_wait_s=self.config.max_batch_wait_ms / 1000,
                inline=model.batch_run_ms <= self.config.inline_run_max_ms,
                on_batch=BATCH_SIZE.labels(record.model_name, str(record.version)).observe,
            )
            self.loaded[key] = ServedVersion(
                record.model_name, record.version, model, batcher, frozenset(record.redact_fields)
            )
            self._retry.pop(key, None)
            LOADED.set(len(self.loaded))
            log.info(
                "model.loaded",
                model=record.model_name,
                version=record.version,
                batchable=model.batchable,
                batch_run_ms=round(model.batch_run_ms, 3),
            )
        except LoadFailed as exc:
            LOAD_FAILURES.labels(record.model_name, exc.stage).inc()
            if exc.retryable or not await self._fail(record, exc):
                self._backoff(key, str(exc))
        except Exception as exc:
            log.exception("model.load_crashed", model=record.model_name, version=record.version)
            self._backoff(key, repr(exc))
        finally:
            self._loading.pop(key, None)
            self.finished()

    async def _fail(self, record: VersionRecord, exc: LoadFailed) -> bool:
        """Record the failure of a pending version; False if it is not pending any more
        (another replica serves it: ours is a local problem)."""
        if record.status != "pending":
            return False
        async with self.transactions.begin() as uow:
            return await fail(uow, record, stage=exc.stage, reason=exc.reason)

    def _backoff(self, key: Key, reason: str) -> None:
        attempts = self._retry.get(key, (0, 0.0))[0] + 1
        delay = min(self.config.load_retry_max_s, 0.5 * 2**attempts)
        self._retry[key] = (attempts, time.monotonic() + delay)
        log.warning(
            "model.load_retry",
            model=key[0],
            version=key[1],
            attempts=attempts,
            delay_s=delay,
            reason=reason[:500],
        )
