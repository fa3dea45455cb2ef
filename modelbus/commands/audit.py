"""``modelbus audit verify|tail|checkpoint|rebuild``: the audit trail, for auditors.

``verify`` reads the database directly (``MODELBUS_DATABASE_URL``) with the checkpoint key
(``MODELBUS_GOVERNANCE_AUDIT_KEY``): an auditor checks the stored log itself, not what a
possibly compromised service says about it. ``tail`` and ``checkpoint`` go through the
governance API like any other client. ``rebuild`` replays the topics into a fresh schema.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any


def register(subparsers: Any) -> None:
    audit = subparsers.add_parser("audit", help="verify and read the audit trail")
    actions = audit.add_subparsers(dest="action", required=True)

    verify = actions.add_parser("verify", help="recompute the hash chains and checkpoints")
    verify.add_argument("--schema", default="governance", help="schema holding the log")
    verify.add_argument("--database-url", help="default: MODELBUS_DATABASE_URL")
    verify.set_defaults(func=run_verify)

    tail = actions.add_parser("tail", help="show the latest audit records")
    tail.add_argument("--model", help="only this model's trail")
    tail.add_argument("--limit", type=int, default=50)
    tail.set_defaults(func=run_tail)

    checkpoint = actions.add_parser("checkpoint", help="sign the current head now (admin)")
    checkpoint.set_defaults(func=run_checkpoint)

    rebuild = actions.add_parser("rebuild", help="replay every audited topic into a new schema")
    rebuild.add_argument("--schema", required=True, help="a fresh schema to rebuild into")
    rebuild.set_defaults(func=run_rebuild)


def _audit_log() -> Any:
    """The audit log with its key from the environment; ``None`` (and why) if unusable."""
    from services.governance.audit.log import AuditLog
    from services.governance.settings import ConfigurationError, load_settings

    try:
        settings = load_settings()
    except ConfigurationError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return None
    return AuditLog(settings.checkpoint_key, settings.checkpoint_every)


def run_verify(args: argparse.Namespace) -> int:
    import asyncpg

    from services.governance.audit.verify import verify_log
    from shared.settings import get_settings

    log = _audit_log()
    if log is None:
        return 2

    async def verify() -> Any:
        url = args.database_url or get_settings().database_url
        conn = await asyncpg.connect(url, server_settings={"search_path": args.schema})
        try:
            if not await conn.fetchval("SELECT to_regclass('audit_log') IS NOT NULL"):
                return None
            return await verify_log(conn, log.key)
        finally:
            await conn.close()

    report = asyncio.run(verify())
    if report is None:
        print(f"error: schema {args.schema!r} holds no audit log", file=sys.stderr)
        return 2
    done = f"{report.records} records and {report.checkpoints} signed checkpoints verified"
    if report.problem is not None:
        print(f"audit log BROKEN at seq {report.problem.seq}: {report.problem.reason}")
        print(f"({done} before it)")
        return 1
    print(f"audit log OK: {done}; head at seq {report.head_seq}")
    if report.checkpoints == 0 and report.records:
        print("warning: no signed checkpoint yet; truncation and rewrites are not detectable")
    return 0


def run_tail(args: argparse.Namespace) -> int:
    from modelbus.client import ServiceClient

    params: dict[str, Any] = {"limit": args.limit}
    if args.model:
        params["model"] = args.model
    for r in ServiceClient("governance").get("/audit", params=params):
        version = f" v{r['version']}" if r.get("version") is not None else ""
        details = ", ".join(
            f"{k}={_brief(v)}"
            for k, v in r.get("summary", {}).items()
            if k not in ("metrics", "policy_digest") and v not in ([], {}, "")
        )
        print(
            f"#{r['seq']:<6} {r['time']}  {r['model_name']}{version}  {r['action']}"
            f"  by {r['actor']}" + (f"  [{details}]" if details else "")
        )
    return 0


def _brief(value: Any) -> str:
    if isinstance(value, list):
        return "+".join(str(v) for v in value)
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {v}" for k, v in value.items()) + "}"
    text = str(value)
    return f"{text[:12]}…" if len(text) == 64 else text  # digests: the prefix is enough


def run_checkpoint(args: argparse.Namespace) -> int:
    from modelbus.client import ServiceClient

    made = ServiceClient("governance").post("/audit/checkpoints")
    if not made["seq"]:
        print("the audit log is empty; nothing to sign")
    else:
        print(f"signed checkpoint at seq {made['seq']} ({made['chain_hash']})")
    return 0


def run_rebuild(args: argparse.Namespace) -> int:
    from importlib import resources

    from services.governance.audit.replay import replay
    from shared.events.topics import consumed_by
    from shared.settings import get_settings
    from shared.store.db import create_pool
    from shared.store.migrations import SHARED_SQL, load_migrations, migrate

    log = _audit_log()
    if log is None:
        return 2
    settings = get_settings()

    async def rebuild() -> int:
        pool = await create_pool(settings, args.schema)
        try:
            async with pool.acquire() as conn:
                folders = [SHARED_SQL, resources.files("services.governance") / "migrations"]
                await migrate(conn, args.schema, load_migrations(*folders))
                topics = consumed_by("governance")
                return await replay(conn, settings, log, topics, service="governance")
        finally:
            await pool.close()

    print(f"rebuilt {asyncio.run(rebuild())} audit records into schema {args.schema!r}")
    return 0
