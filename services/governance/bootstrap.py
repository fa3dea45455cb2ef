"""Wiring of the governance service: its migrations, handlers, routes and workers."""

from __future__ import annotations

from functools import partial
from importlib import resources

from services.governance.api.routes import build_router
from services.governance.audit.log import AuditLog
from services.governance.handlers import AUDITED_TOPICS, SERVICE, on_event
from services.governance.policy.rules import load_policies
from services.governance.recording import Governance
from services.governance.settings import SHIPPED_POLICIES, GovernanceSettings, load_settings
from shared.runtime import Infrastructure, ServiceDefinition, ServiceParts


def governance_from(settings: GovernanceSettings) -> Governance:
    policies = load_policies(SHIPPED_POLICIES, settings.policy_dir)
    key = settings.audit_key.get_secret_value().encode()
    return Governance(policies, AuditLog(key, settings.checkpoint_every))


def definition(settings: GovernanceSettings | None = None) -> ServiceDefinition:
    """The service; tests pass their own settings, a deployment reads the environment."""

    async def build(infra: Infrastructure) -> ServiceParts:
        governance = governance_from(settings or load_settings())
        handler = partial(on_event, governance=governance)
        return ServiceParts(
            handlers=dict.fromkeys(AUDITED_TOPICS, handler),
            routers=[build_router(infra.pool, governance)],
        )

    return ServiceDefinition(SERVICE, resources.files("services.governance") / "migrations", build)
