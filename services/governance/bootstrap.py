"""Wiring of the governance service: its migrations, handlers and routes."""

from __future__ import annotations

from functools import partial
from importlib import resources

from services.governance import api
from services.governance.audit.log import AuditLog
from services.governance.handlers import on_event
from services.governance.policy.rules import load_policies
from services.governance.recording import Governance
from services.governance.settings import SHIPPED_POLICIES, GovernanceSettings, load_settings
from shared.bus.relay import OutboxRelay
from shared.events.topics import consumed_by
from shared.runtime import Infrastructure, ServiceDefinition, ServiceParts
from shared.store.auth_outbox import AUTH_SCHEMA
from shared.store.db import create_pool


def governance_from(settings: GovernanceSettings) -> Governance:
    policies = load_policies(SHIPPED_POLICIES, settings.policy_dir)
    log = AuditLog(settings.checkpoint_key, settings.checkpoint_every)
    return Governance(policies, log, settings.signer())


def definition(settings: GovernanceSettings | None = None) -> ServiceDefinition:
    """The service; tests pass their own settings, a deployment reads the environment."""

    async def build(infra: Infrastructure) -> ServiceParts:
        governance = governance_from(settings or load_settings())  # refuses without a key
        # Every topic the topic table says governance consumes is audited by one handler.
        handler = partial(on_event, governance=governance)

        async def relay_token_events() -> None:
            """Publish the auth component's outbox (tokens issued and revoked), which
            governance then audits like any lifecycle event."""
            small = infra.settings.model_copy(
                update={"database_pool_min": 1, "database_pool_max": 2}
            )
            pool = await create_pool(small, AUTH_SCHEMA)
            try:
                relay = OutboxRelay(pool, infra.producer, schema=AUTH_SCHEMA)
                await relay.run()
            finally:
                await pool.close()

        return ServiceParts(
            handlers=dict.fromkeys(consumed_by(service.name), handler),
            routers=[api.router(infra.transactions, governance)],
            workers=[relay_token_events],
            # Governance consumes its own decisions too, and trusts its own key for them.
            decision_keys=(governance.signer.public_key_text,),
        )

    service = ServiceDefinition(
        "governance", resources.files("services.governance") / "migrations", build
    )
    return service
