"""The five services running in-process on the session's Postgres and Kafka, for fuzzing.

They run on an event loop of their own in a background thread, so that a fuzzer may call
them synchronously over real HTTP (schemathesis sends with ``requests``) and the tests'
own loops may talk to the broker, while the services keep consuming and relaying. One
small model is deployed before fuzzing starts, so inference requests reach a real session
rather than stopping at "model not found".
"""

from __future__ import annotations

import asyncio
import importlib
import threading
from collections.abc import Coroutine, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx
from fastapi import FastAPI

from shared.http.auth import ROLES, Role
from shared.runtime import ServiceProcess
from shared.settings import DEFAULT_PORTS, Settings
from tests.support.bus import publish
from tests.support.events import DECISION_KEY, SIGNING_KEY_FILE, approved, registered
from tests.support.onnx_models import logistic_regression_onnx
from tests.support.polling import eventually

T = TypeVar("T")

SERVICES = tuple(sorted(DEFAULT_PORTS))
ENVIRONMENT = {
    # A secret governance refuses to start without (there is no default).
    "MODELBUS_GOVERNANCE_AUDIT_KEY": "fuzz-audit-key-0d5e3c1a9b7f4e2d6c8a0b1e3f5d7c9a",
    # Fuzzed requests that are valid start real trainings: each is cut short, once, so
    # the tier's time goes to inputs rather than to fitting models.
    "MODELBUS_TRAINER_JOB_TIMEOUT_S": "20",
    "MODELBUS_TRAINER_MAX_ATTEMPTS": "1",
    # Governance signs its decisions with the tests' key, which every service trusts.
    "MODELBUS_GOVERNANCE_SIGNING_KEY_FILE": str(SIGNING_KEY_FILE),
}
SERVED_MODEL = "fuzz-served"


@dataclass
class Platform:
    services: dict[str, ServiceProcess]
    apps: dict[str, FastAPI]
    tokens: dict[Role, str]
    settings: Settings
    loop: asyncio.AbstractEventLoop
    served_inputs: int = 30  # the served model's feature count
    _thread: threading.Thread | None = field(default=None, repr=False)

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.services[service].port}"

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 120) -> T:
        """Run ``coro`` on the services' loop and wait for its result."""
        future: Future[T] = asyncio.run_coroutine_threadsafe(coro, self.loop)
        return future.result(timeout)

    def crashed(self) -> dict[str, list[str]]:
        """Background tasks (relay, consumer readiness, workers) that ended, per service.

        A service's tasks run until it is stopped; one that finished died of an exception.
        """
        ended: dict[str, list[str]] = {}
        for name, service in self.services.items():
            for task in service._tasks:
                if task.done() and not task.cancelled():
                    exc = task.exception()
                    if exc is not None:
                        ended.setdefault(name, []).append(repr(exc)[:300])
        return ended


def _bootstrap(service: str) -> Any:
    return importlib.import_module(f"services.{service}.bootstrap")


@contextmanager
def running_platform(database_url: str, kafka_bootstrap: str, home: Path) -> Iterator[Platform]:
    sources = home / "sources"
    sources.mkdir(parents=True)
    settings = Settings(
        database_url=database_url,
        kafka_bootstrap=kafka_bootstrap,
        home=home,
        http_port=0,
        artifact_source_dirs=[sources],
        # The fuzzer sends thousands of bad tokens from one address; 429s would hide the
        # routes behind them (the limit itself is tested in the integration tier).
        auth_max_failures=1_000_000,
        # Bad events are never transient, but a bug that made one so must show as a
        # dead letter within the tier, not as a partition waiting five minutes.
        consumer_retry_deadline_s=20,
        decision_keys=[DECISION_KEY],
    )
    loop = asyncio.new_event_loop()
    started: Future[Platform] = Future()
    stop = asyncio.Event()

    async def main() -> None:
        services: dict[str, ServiceProcess] = {}
        try:
            for name in SERVICES:
                services[name] = ServiceProcess(_bootstrap(name).definition(), settings)
            for service in services.values():
                await service.start()
            for service in services.values():
                await eventually(_ready(service), timeout=90, what=f"{service.definition.name}")
            any_infra = services["registry"].infra
            assert any_infra is not None
            tokens = {role: await any_infra.auth.issue(f"fuzz-{role}", role) for role in ROLES}
            apps = {name: _fastapi_app(s) for name, s in services.items()}
            platform = Platform(services, apps, tokens, settings, loop)
            await _serve_a_model(platform)
            started.set_result(platform)
        except BaseException as exc:
            started.set_exception(exc)
            await _stop(services)
            return
        await stop.wait()
        await _stop(services)

    def thread_main() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(main())
        loop.close()

    import os

    saved = {k: os.environ.get(k) for k in ENVIRONMENT}
    os.environ.update(ENVIRONMENT)
    thread = threading.Thread(target=thread_main, name="fuzz-platform", daemon=True)
    thread.start()
    try:
        platform = started.result(timeout=240)
        platform._thread = thread
        yield platform
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(timeout=120)
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _ready(service: ServiceProcess) -> Any:
    async def probe() -> bool:
        return service.ready.is_set()

    return probe


async def _stop(services: dict[str, ServiceProcess]) -> None:
    for service in reversed(list(services.values())):
        try:
            await service.stop()
        except Exception:  # stopping the rest matters more than one unclean stop
            pass


def _fastapi_app(service: ServiceProcess) -> FastAPI:
    """The FastAPI app inside the served ASGI stack (the deployer wraps it once)."""
    assert service.http_app is not None
    return service.http_app


async def _serve_a_model(platform: Platform) -> None:
    deployer = platform.services["deployer"]
    assert deployer.infra is not None
    model = logistic_regression_onnx()
    ref = await deployer.infra.artifacts.put(model.onnx)
    platform.served_inputs = int(model.X_holdout.shape[1])
    # The registry's registration (the deployer serves only the digest it names), then
    # governance's signed approval.
    await publish(
        platform.settings.kafka_bootstrap,
        registered(SERVED_MODEL, 1, artifact=ref),
        approved(SERVED_MODEL, 1, artifact_ref=ref),
    )
    headers = {"Authorization": f"Bearer {platform.tokens['viewer']}"}
    async with httpx.AsyncClient(base_url=platform.url("deployer"), headers=headers) as client:

        async def served() -> bool:
            return (await client.get(f"/v2/models/{SERVED_MODEL}/ready")).status_code == 200

        await eventually(served, timeout=90, what=f"{SERVED_MODEL} served")
