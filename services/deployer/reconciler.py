"""Make what this replica serves match the desired state in Postgres.

Each pass (every ``reconcile_interval_s``, at once when poked, and right after a transition
taken here) reads the desired state in one snapshot, starts loads of the versions it names
that are not loaded here, activates pending versions that loaded, swaps each model's route
into the serving table, and unloads what nothing names any more. A version not loaded yet
never interrupts service: the route keeps what it served until the new version is ready.

A pass only reads and writes small rows, so a kill switch takes effect in the next pass
whatever is loading. A restarted replica rebuilds everything from the same tables, and says
ready only once it has.
"""

from __future__ import annotations

import asyncio
import contextlib

import structlog

from services.deployer.serving.route_builder import build_route, needed_versions
from services.deployer.serving.table import ServingTable
from services.deployer.settings import DeployerSettings
from services.deployer.store.approvals import activate
from services.deployer.store.desired_state import DesiredState, load_desired_state
from services.deployer.version_loader import VersionLoader
from shared.bus.retry import keep_running, retry_transient
from shared.bus.unit_of_work import Transactions
from shared.store.artifacts import ArtifactStore

log = structlog.get_logger(__name__)


class Reconciler:
    def __init__(
        self,
        transactions: Transactions,
        store: ArtifactStore,
        table: ServingTable,
        config: DeployerSettings,
        *,
        replica: str,
    ) -> None:
        self.transactions = transactions
        self.table = table
        self.config = config
        self.replica = replica
        self.versions = VersionLoader(transactions, store, config, finished=self.poke)
        self._poked = asyncio.Event()
        self._pass = asyncio.Lock()

    def poke(self) -> None:
        self._poked.set()

    async def run(self) -> None:
        try:
            await self._initial_sync()

            async def step() -> None:  # the database may be away: serve on, try again
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._poked.wait(), self.config.reconcile_interval_s)
                self._poked.clear()
                await self.reconcile()

            await keep_running(step, log=log, what="reconcile")
        finally:
            await self.versions.close()

    async def _initial_sync(self) -> None:

        async def sync() -> None:
            await self.reconcile()
            await self.versions.wait_loading()
            await self.reconcile()

        await retry_transient(sync, log=log, what="reconcile.initial", every_error=True)
        self.table.ready = True
        log.info("reconcile.ready", models=len(self.table.models), loaded=len(self.versions.loaded))

    async def reconcile(self) -> None:
        """One pass. Also awaited right after a transition taken here (by hand, or on
        evidence), so this replica serves it by the time the caller hears back."""
        async with self._pass:  # one pass at a time
            await self._reconcile()

    async def _reconcile(self) -> None:
        state = self._ours(await load_desired_state(self.transactions.pool))
        needed = needed_versions(state)
        for key in needed:
            self.versions.ensure(state.versions[key])
        loaded = self.versions.loaded
        for pending in state.pending():
            if (pending.model_name, pending.version) in loaded:
                async with self.transactions.begin() as uow:
                    await activate(uow, pending, replica=self.replica)
                self.poke()  # the route moved: apply it in the next pass
        for name, route in state.routes.items():
            current = self.table.models.get(name)
            served = build_route(
                route, state, loaded, current, latency_floor_ms=self.config.latency_floor_ms
            )
            if served is not None and served is not current:
                self.table.models[name] = served
                log.info(
                    "route.swapped",
                    model=name,
                    revision=route.revision,
                    stable=getattr(served.stable, "version", None),
                    candidate=getattr(served.candidate, "version", None),
                    mode=served.mode,
                    weight=served.weight,
                )
        in_use = {(s.model_name, s.version) for m in self.table.models.values() for s in m.serving}
        self.versions.unload_except(needed | in_use)

    def _ours(self, state: DesiredState) -> DesiredState:
        """The part of the shared state this deployer pool serves."""
        serves = self.config.serves
        return DesiredState(
            routes={m: r for m, r in state.routes.items() if serves(m)},
            versions={k: v for k, v in state.versions.items() if serves(k[0])},
        )
