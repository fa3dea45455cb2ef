"""The audit log for auditors: besides ``bootstrap``, the one governance module other code
may import (the ``modelbus audit`` commands, the demo).

Both tools work on the database itself with the checkpoint key, never through the running
service: an auditor checks the stored log, not what a possibly compromised service says
about it. Reading the trail and signing the head on demand are the HTTP API's
(``GET /v1/audit``, ``POST /v1/audit/checkpoints``), with its roles.
"""

from __future__ import annotations

from dataclasses import replace

import asyncpg

from services.governance.audit.log import AuditLog
from services.governance.audit.published import published_checkpoints
from services.governance.audit.replay import replay
from services.governance.audit.verify import Problem, Report, verify_log
from services.governance.bootstrap import definition
from services.governance.settings import ConfigurationError, GovernanceSettings, load_settings
from services.governance.store import audit_log
from shared.events.signing import DecisionVerifier
from shared.events.topics import consumed_by
from shared.runtime import connect_and_migrate
from shared.settings import Settings

__all__ = [
    "ConfigurationError",
    "GovernanceSettings",
    "Problem",
    "Report",
    "load_settings",
    "rebuild",
    "verify",
]


async def verify(
    database_url: str,
    key: bytes,
    *,
    schema: str | None = None,
    every: int | None = None,
    against_topic: Settings | None = None,
) -> Report | None:
    """Both chains and every signed checkpoint of the log in ``schema`` (governance's own
    unless told), one required at every multiple of ``every``; with ``against_topic`` (the
    settings naming the broker) also every checkpoint governance published on
    ``governance.checkpoints``. ``None`` if that schema holds no audit log. Reads only."""
    search_path = schema or definition().name
    published = (
        await published_checkpoints(against_topic, key, search_path)
        if against_topic is not None
        else None
    )
    conn = await asyncpg.connect(database_url, server_settings={"search_path": search_path})
    try:
        if not await audit_log.holds_a_log(conn):
            return None
        return await verify_log(conn, key, every=every, published=published)
    finally:
        await conn.close()


async def rebuild(settings: Settings, governance: GovernanceSettings, schema: str) -> int:
    """Replay every topic governance audits into ``schema``, a fresh one migrated here like
    governance's own; return how many records it now holds. Nothing is published."""
    keys = [*settings.decision_keys]
    if governance.signing_key_file is not None:
        keys.append(governance.signer().public_key_text)
    if not keys:
        raise ConfigurationError(
            "rebuild needs governance's public key (MODELBUS_DECISION_KEYS) or its signing "
            "key (MODELBUS_GOVERNANCE_SIGNING_KEY_FILE) to tell its decisions from forgeries"
        )
    service = definition(governance)
    # The runtime migrates the schema a definition is named after: here, the target.
    pool = await connect_and_migrate(replace(service, name=schema), settings)
    log = AuditLog(governance.checkpoint_key, governance.checkpoint_every, schema, publish=False)
    try:
        async with pool.acquire() as conn:
            topics = consumed_by(service.name)
            verifier = DecisionVerifier.of(keys)
            return await replay(
                conn, settings, log, topics, service=service.name, verifier=verifier
            )
    finally:
        await pool.close()
