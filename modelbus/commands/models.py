"""``modelbus models list|show|register|register-rules|alias``: the model registry from the
command line."""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path
from typing import Any

from modelbus.client import ServiceClient


def register(subparsers: Any) -> None:
    models = subparsers.add_parser("models", help="list, show, register and alias model versions")
    actions = models.add_subparsers(dest="action", required=True)

    listing = actions.add_parser("list", help="list models, optionally filtered")
    listing.add_argument("--name", help="part of the model name")
    listing.add_argument("--tag", help="a tag key, or KEY=VALUE")
    listing.add_argument("--owner")
    listing.add_argument("--status", help="has a version in this status, e.g. serving")
    listing.set_defaults(func=list_models)

    show = actions.add_parser("show", help="a model, or one of its versions, as JSON")
    show.add_argument("name")
    show.add_argument("version", nargs="?", type=int)
    show.set_defaults(func=show_model)

    upload = actions.add_parser("register", help="upload an ONNX file as a new version")
    upload.add_argument("name")
    upload.add_argument("file", type=Path, help="the .onnx file")
    upload.add_argument("--task", choices=("classification", "regression"),
                        default="classification", help="default: classification")  # fmt: skip
    upload.add_argument("--owner")
    upload.add_argument("--team")
    upload.add_argument("--description")
    upload.add_argument("--intended-use")
    upload.add_argument("--risk-tier", choices=("low", "medium", "high"), default="low")
    upload.add_argument("--tag", action="append", default=[], metavar="KEY=VALUE")
    upload.add_argument(
        "--metrics",
        type=Path,
        help="a JSON file of metric -> value (shown as claimed, never decided on)",
    )
    upload.add_argument(
        "--eval-data",
        type=Path,
        help="held-out CSV (the model's inputs and --target): the platform "
        "measures the model on it",
    )
    upload.add_argument("--target", help="the target column of --eval-data")
    upload.add_argument(
        "--sensitive-attribute",
        metavar="COLUMN",
        help="a column of --eval-data to measure fairness gaps across",
    )
    upload.add_argument(
        "--reference-predictions",
        type=Path,
        help="one-column CSV: the original model's prediction per eval row "
        "(ONNX parity is measured against it)",
    )
    upload.add_argument("--profile", type=Path, help="a reference profile (JSON) for monitoring")
    upload.add_argument("--parent-version", type=int)
    upload.add_argument("--upload-id", help="retrying with the same id registers once")
    upload.set_defaults(func=register_model)

    rules = actions.add_parser(
        "register-rules",
        help="register a scorecard (YAML) as a new version, measured on its own test cases",
    )
    rules.add_argument("name")
    rules.add_argument("file", type=Path, help="the scorecard's YAML document")
    rules.add_argument(
        "--reference",
        type=Path,
        metavar="ROWS.csv",
        help="typical inputs (CSV, a column per input field of the document): the version "
        "is then monitored for input and prediction drift against them; without it, no "
        "drift monitoring",
    )
    rules.set_defaults(func=register_rules)

    lower = actions.add_parser(
        "lower-tier", help="approver: let later versions register below the pinned risk tier"
    )
    lower.add_argument("name")
    lower.add_argument("risk_tier", choices=("low", "medium"))
    lower.add_argument("--reason", required=True, help="why; recorded and audited")
    lower.set_defaults(func=lower_tier)

    alias = actions.add_parser("alias", help="point an alias (e.g. champion) at a version")
    alias.add_argument("name")
    alias.add_argument("alias")
    alias.add_argument("version", nargs="?", type=int)
    alias.add_argument("--delete", action="store_true", help="remove the alias instead")
    alias.set_defaults(func=set_alias)


def list_models(args: argparse.Namespace) -> int:
    filters = {k: getattr(args, k) for k in ("name", "tag", "owner", "status")}
    found = ServiceClient("registry").get(
        "/v1/models", params={k: v for k, v in filters.items() if v is not None}
    )
    rows = [("NAME", "LATEST", "OWNER", "RISK", "DESCRIPTION")]
    for model in found:
        meta = model["metadata"]
        rows.append((model["name"], str(model["latest_version"]), meta.get("owner") or "-",
                     meta.get("risk_tier") or "-", meta.get("description") or ""))  # fmt: skip
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row[:4], widths, strict=True)]
        print("  ".join([*cells, row[4]]).rstrip())
    return 0


def show_model(args: argparse.Namespace) -> int:
    path = f"/v1/models/{args.name}"
    if args.version is not None:
        path += f"/versions/{args.version}"
    _print(ServiceClient("registry").get(path))
    return 0


def register_model(args: argparse.Namespace) -> int:
    if args.eval_data is None and (args.target or args.reference_predictions):
        raise SystemExit("--target and --reference-predictions go with --eval-data")
    if args.eval_data is not None and not args.target:
        raise SystemExit("--eval-data needs --target, the name of its target column")
    data = args.file.read_bytes()
    tags = dict(_key_value(tag) for tag in args.tag)
    metadata = {
        "task": args.task,
        "sha256": hashlib.sha256(data).hexdigest(),
        "upload_id": args.upload_id,
        "parent_version": args.parent_version,
        "target": args.target,
        "metrics": json.loads(args.metrics.read_text()) if args.metrics else {},
        "metadata": {
            "owner": args.owner,
            "team": args.team,
            "description": args.description,
            "intended_use": args.intended_use,
            "risk_tier": args.risk_tier,
            "tags": tags,
            "sensitive_attribute": args.sensitive_attribute,
        },
    }
    files = {"artifact": (args.file.name, data, "application/onnx")}
    if args.profile:
        files["reference_profile"] = (
            args.profile.name,
            args.profile.read_bytes(),
            "application/json",
        )
    for part, path in (("eval_data", args.eval_data),
                       ("reference_predictions", args.reference_predictions)):  # fmt: skip
        if path is not None:
            files[part] = (path.name, path.read_bytes(), "text/csv")
    version = ServiceClient("registry", timeout=300).post(
        f"/v1/models/{args.name}/versions", files=files, data={"metadata": json.dumps(metadata)}
    )
    _report(version)
    return 0


def register_rules(args: argparse.Namespace) -> int:
    registry, path = ServiceClient("registry", timeout=300), f"/v1/models/{args.name}/rules"
    document = args.file.read_bytes()
    if args.reference is None:
        version = registry.post(
            path, content=document, headers={"Content-Type": "application/yaml"}
        )
    else:
        files = {
            "rules": (args.file.name, document, "application/yaml"),
            "reference": (args.reference.name, args.reference.read_bytes(), "text/csv"),
        }
        version = registry.post(path, files=files)
    _report(version)
    print(f"drift monitoring: {version['params'].get('monitoring', 'unknown')}")
    return 0


def _report(version: dict[str, Any]) -> None:
    print(f"registered {version['model_name']} version {version['version']} "
          f"(sha256 {version['artifact']['sha256']})")  # fmt: skip
    measured = version.get("measured")
    if measured:
        shown = ", ".join(f"{k}={v:.4g}" for k, v in sorted(measured["metrics"].items()))
        print(f"measured by the {measured['by']} on {measured.get('rows')} rows: {shown}")
        if measured.get("parity_passed") is not None:
            print(f"ONNX parity with the reference predictions: "
                  f"{'passed' if measured['parity_passed'] else 'FAILED'}")  # fmt: skip
    else:
        print("nothing measured (no --eval-data): governance will ask people to review it")


def lower_tier(args: argparse.Namespace) -> int:
    body = {"risk_tier": args.risk_tier, "reason": args.reason}
    floor = ServiceClient("registry").post(f"/v1/models/{args.name}/risk-tier", json=body)
    print(f"{args.name}: new versions may register at risk tier {floor['risk_tier']} or above")
    return 0


def set_alias(args: argparse.Namespace) -> int:
    client, path = ServiceClient("registry"), f"/v1/models/{args.name}/aliases/{args.alias}"
    if args.delete:
        client.request("DELETE", path)
        print(f"deleted alias {args.alias} of {args.name}")
        return 0
    if args.version is None:
        raise SystemExit("give the VERSION the alias should point to (or --delete)")
    moved = client.request("PUT", path, json={"version": args.version})
    print(f"{args.name}@{args.alias} -> version {moved['version']} (since {moved['since']})")
    return 0


def _key_value(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise SystemExit(f"--tag needs KEY=VALUE, got {text!r}")
    return key, value


def _print(document: Any) -> None:
    print(json.dumps(document, indent=2, sort_keys=True))
