"""``modelbus audit verify|tail|checkpoint|rebuild``: the audit trail, for auditors.

``verify`` reads the database directly (``MODELBUS_DATABASE_URL``) with the checkpoint key
(``MODELBUS_GOVERNANCE_AUDIT_KEY``): an auditor checks the stored log itself, not what a
possibly compromised service says about it. ``tail`` and ``checkpoint`` go through the
governance API like any other client. ``rebuild`` replays the topics into a fresh schema.
``verify`` and ``rebuild`` are governance's public audit tools
(``services.governance.audit_tools``), the only part of the service this module imports.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from services.governance.audit_tools import GovernanceSettings


def register(subparsers: Any) -> None:
    audit = subparsers.add_parser("audit", help="verify and read the audit trail")
    actions = audit.add_subparsers(dest="action", required=True)

    verify = actions.add_parser("verify", help="recompute the hash chains and checkpoints")
    verify.add_argument("--schema", help="schema holding the log (default: governance's own)")
    verify.add_argument("--database-url", help="default: MODELBUS_DATABASE_URL")
    verify.add_argument(
        "--against-topic",
        action="store_true",
        help="also check the log against the checkpoints published on governance.checkpoints "
        "(MODELBUS_KAFKA_BOOTSTRAP): detects truncation with the checkpoint table deleted",
    )
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


def _governance_settings() -> GovernanceSettings | None:
    """Governance's settings (the checkpoint key) from the environment; ``None`` if unusable."""
    from services.governance.audit_tools import ConfigurationError, load_settings

    try:
        return load_settings()
    except ConfigurationError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return None


def run_verify(args: argparse.Namespace) -> int:
    from services.governance import audit_tools

    governance = _governance_settings()
    if governance is None:
        return 2
    from modelbus.local_database import database_url
    from shared.settings import get_settings

    settings = get_settings()
    url = args.database_url or database_url("modelbus_governance")
    report = asyncio.run(
        audit_tools.verify(
            url,
            governance.checkpoint_key,
            schema=args.schema,
            every=governance.checkpoint_every,
            against_topic=settings if args.against_topic else None,
        )
    )
    if report is None:
        where = f"schema {args.schema!r}" if args.schema else "governance's schema"
        print(f"error: {where} holds no audit log", file=sys.stderr)
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
    for r in ServiceClient("governance").get("/v1/audit", params=params):
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

    made = ServiceClient("governance").post("/v1/audit/checkpoints")
    if not made["seq"]:
        print("the audit log is empty; nothing to sign")
    else:
        print(f"signed checkpoint at seq {made['seq']} ({made['chain_hash']})")
    return 0


def run_rebuild(args: argparse.Namespace) -> int:
    from services.governance import audit_tools
    from shared.settings import get_settings

    governance = _governance_settings()
    if governance is None:
        return 2
    try:
        rebuilt = asyncio.run(audit_tools.rebuild(get_settings(), governance, args.schema))
    except audit_tools.ConfigurationError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"rebuilt {rebuilt} audit records into schema {args.schema!r}")
    return 0
