"""``modelbus approve|reject|suspend|retire`` and ``modelbus review list``: people's decisions."""

from __future__ import annotations

import argparse
from typing import Any


def register(subparsers: Any) -> None:
    approve = subparsers.add_parser("approve", help="approve a version under review")
    _version_args(approve)
    approve.add_argument("--comment", default="", help="why you approve")
    approve.set_defaults(func=run_approve)

    reject = subparsers.add_parser("reject", help="reject a version under review")
    _version_args(reject)
    reject.add_argument("--comment", required=True, help="why you reject (required)")
    reject.set_defaults(func=run_reject)

    suspend = subparsers.add_parser("suspend", help="kill switch: stop a version serving now")
    _version_args(suspend)
    suspend.add_argument("--reason", required=True, help="why it must stop (required)")
    suspend.set_defaults(func=run_suspend)

    retire = subparsers.add_parser("retire", help="end of life: a version stops serving for good")
    _version_args(retire)
    retire.add_argument("--reason", default="end of life", help="why it retires")
    retire.set_defaults(func=run_retire)

    review = subparsers.add_parser("review", help="reviews waiting for approvers")
    actions = review.add_subparsers(dest="action", required=True)
    actions.add_parser("list", help="list open reviews").set_defaults(func=run_review_list)


def _version_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", help="model name")
    parser.add_argument("version", type=int, help="model version")


def _path(args: argparse.Namespace, action: str) -> str:
    return f"/v1/models/{args.name}/versions/{args.version}/{action}"


def _governance() -> Any:
    from modelbus.client import ServiceClient  # imported late: the CLI starts fast

    return ServiceClient("governance")


def run_approve(args: argparse.Namespace) -> int:
    result = _governance().post(_path(args, "approve"), json={"comment": args.comment})
    if result["status"] == "approved":
        print(f"{args.name} v{args.version} approved by {', '.join(result['approvers'])}")
    else:
        print(
            f"approval recorded: {len(result['approvers'])} of "
            f"{result['required_approvals']} ({', '.join(result['approvers'])})"
        )
    return 0


def run_reject(args: argparse.Namespace) -> int:
    _governance().post(_path(args, "reject"), json={"comment": args.comment})
    print(f"{args.name} v{args.version} rejected")
    return 0


def run_suspend(args: argparse.Namespace) -> int:
    _governance().post(_path(args, "suspend"), json={"reason": args.reason})
    print(f"{args.name} v{args.version} suspended: the deployer takes it out of service")
    return 0


def run_retire(args: argparse.Namespace) -> int:
    _governance().post(_path(args, "retire"), json={"reason": args.reason})
    print(
        f"{args.name} v{args.version} retired: the deployer drains it and stops serving it; "
        "serving it again takes a new registration"
    )
    return 0


def run_review_list(args: argparse.Namespace) -> int:
    reviews = _governance().get("/v1/reviews")
    if not reviews:
        print("no open reviews")
        return 0
    print(f"{'MODEL':<30} {'VERSION':>7} {'TIER':<6} {'OWNER':<16} {'APPROVALS':<10} REQUESTED")
    for r in reviews:
        count = f"{len(r['approvers'])}/{r['required_approvals']}"
        print(
            f"{r['model_name']:<30} {r['version']:>7} {r['risk_tier'] or '-':<6} "
            f"{r['owner'] or '-':<16} {count:<10} {r['requested_at']}"
        )
    return 0
