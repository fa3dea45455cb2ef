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
from shared.events.topics import consumed_by
from shared.runtime import Infrastructure, ServiceDefinition, ServiceParts


def governance_from(settings: GovernanceSettings) -> Governance:
    policies = load_policies(SHIPPED_POLICIES, settings.policy_dir)
    log = AuditLog(settings.checkpoint_key, settings.checkpoint_every)
    return Governance(policies, log, settings.signer())


def definition(settings: GovernanceSettings | None = None) -> ServiceDefinition:
    """The service; tests pass their own settings, a deployment reads the environment."""

    async def build(infra: Infrastructure) -> ServiceParts:
        governance = governance_from(settings or load_settings())
        # Every topic the topic table says governance consumes is audited by one handler.
        handler = partial(on_event, governance=governance)
        return ServiceParts(
            handlers=dict.fromkeys(consumed_by(service.name), handler),
            routers=[api.router(infra.transactions, governance)],
            # Governance consumes its own decisions too, and trusts its own key for them.
            decision_keys=(governance.signer.public_key_text,),
        )

    service = ServiceDefinition(
        "governance", resources.files("services.governance") / "migrations", build
    )
    return service
