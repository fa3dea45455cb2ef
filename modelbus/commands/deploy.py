"""``modelbus deploy status|promote|rollback``: what serves where, and moving it by hand."""

from __future__ import annotations

import argparse
import json
from typing import Any


def register(subparsers: Any) -> None:
    deploy = subparsers.add_parser("deploy", help="deployments: status, promote, rollback")
    actions = deploy.add_subparsers(dest="action", required=True)

    status = actions.add_parser("status", help="what serves where, with its weights")
    status.add_argument("name", nargs="?", help="one model (default: all)")
    status.add_argument("--json", action="store_true", help="print the raw JSON")
    status.set_defaults(func=run_status)

    for action, text in (
        ("promote", "make the candidate the stable version (approver)"),
        ("rollback", "take the candidate, or else the stable version, out of service (approver)"),
    ):
        parser = actions.add_parser(action, help=text)
        parser.add_argument("name", help="model name")
        parser.add_argument("--version", type=int, help="the version meant (makes a retry safe)")
        parser.add_argument("--reason", default="", help="why, for the audit trail")
        parser.set_defaults(func=run_transition, transition=action)


def _deployer() -> Any:
    from modelbus.client import ServiceClient  # imported late: the CLI starts fast

    return ServiceClient("deployer")


def run_status(args: argparse.Namespace) -> int:
    path = f"/v1/deployments/{args.name}" if args.name else "/v1/deployments"
    status = _deployer().get(path)
    if args.json:
        print(json.dumps(status, indent=2))
        return 0
    print(format_status(status))
    return 0


def format_status(status: dict[str, Any]) -> str:
    lines = [
        f"replica {status['replica']}" + ("" if status["ready"] else " (loading)"),
        f"{'MODEL':28} {'ARM':8} {'VERSION':>7} {'WEIGHT':>7}  {'STATUS':12} SERVING HERE",
    ]
    for model in status["models"]:
        here = model["serving_here"] or {}
        arms = [
            ("stable", model["stable"], here.get("stable")),
            (
                model["candidate"]["mode"] if model["candidate"] else "",
                model["candidate"],
                here.get("candidate"),
            ),
        ]
        for arm, desired, served in arms:
            if desired is None:
                continue
            local = "yes" if served == desired["version"] else f"no ({served or 'nothing'})"
            lines.append(
                f"{model['model_name']:28} {arm:8} {desired['version']:>7} "
                f"{desired['weight']:>7.0%}  {desired['status']:12} {local}"
            )
        if model["pending"]:
            lines.append(
                f"{model['model_name']:28} {'pending':8} {', '.join(map(str, model['pending'])):>7}"
            )
    return "\n".join(lines)


def run_transition(args: argparse.Namespace) -> int:
    body: dict[str, Any] = {"reason": args.reason}
    if args.version is not None:
        body["version"] = args.version
    result = _deployer().post(f"/v1/deployments/{args.name}/{args.transition}", json=body)
    print(result["message"] if result["changed"] else f"nothing to do: {result['message']}")
    return 0
