"""``modelbus train`` and ``modelbus jobs``: ask the trainer for a model, follow its jobs.

The request goes to the trainer's ``POST /v1/training-requests`` (data-scientist role),
which records the job and announces it on ``training.requested`` through its outbox.
A local dataset file is sent by claim check: its ``file://`` URI, SHA-256 and size (the
trainer must see the same filesystem and read from that folder, one of its
``MODELBUS_ARTIFACT_SOURCE_DIRS``; otherwise give a URI with ``--sha256`` and ``--size``).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from pathlib import Path
from typing import Any, get_args

from shared.events.training import BUILTIN_TASKS, Algorithm

# The algorithms the contract accepts: a typo is caught before the request is sent.
ALGORITHMS: tuple[str, ...] = get_args(Algorithm)
TERMINAL = ("succeeded", "failed")


def register(subparsers: Any) -> None:
    train = subparsers.add_parser("train", help="ask the trainer to train a model")
    train.add_argument("name", help="model name (lowercase letters, digits, _ . -)")
    train.add_argument(
        "--dataset",
        required=True,
        help=f"a bundled dataset ({', '.join(BUILTIN_TASKS)}), a local CSV/Parquet "
        "file, or a URI (with --sha256 and --size)",
    )
    train.add_argument("--sha256", help="digest of a dataset given by URI")
    train.add_argument("--size", type=int, help="size in bytes of a dataset given by URI")
    train.add_argument("--format", choices=("csv", "parquet"))
    train.add_argument("--target", help="target column (default: target)")
    train.add_argument(
        "--task",
        choices=("classification", "regression"),
        help="required unless the dataset is bundled",
    )
    train.add_argument(
        "--candidate",
        action="append",
        default=[],
        metavar="ALG[=JSON]",
        help=f"an algorithm ({', '.join(ALGORITHMS)}) with an optional search "
        "space, e.g. random_forest='{\"max_depth\": [4, 8]}'; repeatable; "
        "default: the trainer's default search",
    )
    train.add_argument("--metric", help="metric to optimise (default: roc_auc / rmse)")
    train.add_argument("--holdout", type=float, help="holdout fraction (default 0.2)")
    train.add_argument("--cv-folds", type=int)
    train.add_argument("--search", choices=("grid", "random"))
    train.add_argument("--max-trials", type=int, help="trials per candidate")
    train.add_argument("--seed", type=int)
    train.add_argument("--owner")
    train.add_argument("--team")
    train.add_argument("--description")
    train.add_argument("--intended-use")
    train.add_argument("--risk-tier", choices=("low", "medium", "high"))
    train.add_argument("--sensitive-attribute", help="feature to measure fairness over")
    train.add_argument(
        "--retraining", choices=("off", "auto"), help="auto: retrain on drift or performance alerts"
    )
    train.add_argument("--request-id", help="your id for the request (makes retries safe)")
    train.add_argument("--wait", action="store_true", help="follow the job until it ends")
    train.add_argument("--timeout", type=float, default=1800.0, help="seconds to --wait")
    train.set_defaults(func=run_train)

    jobs = subparsers.add_parser("jobs", help="show one training job, or list them")
    jobs.add_argument("job_id", nargs="?")
    jobs.add_argument("--model")
    jobs.add_argument("--status", choices=("queued", "running", "succeeded", "failed"))
    jobs.add_argument("--limit", type=int, default=20)
    jobs.set_defaults(func=run_jobs)


def dataset_spec(args: argparse.Namespace) -> dict[str, Any]:
    if args.dataset in BUILTIN_TASKS:
        return {"builtin": args.dataset}
    path = Path(args.dataset).expanduser()
    if path.is_file():
        data = path.read_bytes()
        ref = {
            "uri": path.resolve().as_uri(),
            "sha256": hashlib.sha256(data).hexdigest(),
            "size": len(data),
        }
        fmt = args.format or ("parquet" if path.suffix == ".parquet" else "csv")
    elif "://" in args.dataset and args.sha256 and args.size is not None:
        ref = {"uri": args.dataset, "sha256": args.sha256, "size": args.size}
        fmt = args.format
    else:
        raise SystemExit(
            f"error: {args.dataset!r} is not a bundled dataset, a file, or a URI "
            "given with --sha256 and --size"
        )
    media = "application/vnd.apache.parquet" if fmt == "parquet" else "text/csv"
    return {"artifact": {**ref, "media_type": media}} | ({"format": fmt} if fmt else {})


def candidate(text: str) -> dict[str, Any]:
    name, _, space = text.partition("=")
    if name not in ALGORITHMS:
        raise SystemExit(f"error: unknown algorithm {name!r}; choose from {', '.join(ALGORITHMS)}")
    try:
        search_space = json.loads(space) if space else {}
    except json.JSONDecodeError as exc:
        raise SystemExit(f"error: search space of {name} is not JSON: {exc}") from exc
    return {"algorithm": name, "search_space": search_space}


def build_request(args: argparse.Namespace) -> dict[str, Any]:
    """The body of ``POST /v1/training-requests`` for these arguments."""
    task = args.task or BUILTIN_TASKS.get(args.dataset)
    if task is None:
        raise SystemExit("error: --task is required for a dataset that is not bundled")
    optional = {
        "request_id": args.request_id,
        "target": args.target,
        "metric": args.metric,
        "holdout_fraction": args.holdout,
        "cv_folds": args.cv_folds,
        "search": args.search,
        "max_trials_per_candidate": args.max_trials,
        "seed": args.seed,
    }
    metadata = {
        "owner": args.owner,
        "team": args.team,
        "description": args.description,
        "intended_use": args.intended_use,
        "risk_tier": args.risk_tier,
        "sensitive_attribute": args.sensitive_attribute,
        "retraining": args.retraining,
    }
    body: dict[str, Any] = {
        "model_name": args.name,
        "task": task,
        "dataset": dataset_spec(args),
        "candidates": [candidate(c) for c in args.candidate],
    }
    body.update({k: v for k, v in optional.items() if v is not None})
    body["metadata"] = {k: v for k, v in metadata.items() if v is not None}
    return body


def run_train(args: argparse.Namespace) -> int:
    from modelbus.client import ServiceClient

    client = ServiceClient("trainer")
    job = client.post("/v1/training-requests", json=build_request(args))
    print(f"job {job['job_id']} for request {job['request_id']}: {job['status']}")
    if not args.wait:
        return 0
    return follow(client, job["job_id"], args.timeout)


def follow(client: Any, job_id: str, timeout: float) -> int:
    deadline, last = time.monotonic() + timeout, ""
    while True:
        job = client.get(f"/v1/jobs/{job_id}")
        if job["progress"] != last:
            last = job["progress"]
            print(f"  [{job['progress_fraction']:>4.0%}] {last}", file=sys.stderr)
        if job["status"] in TERMINAL:
            break
        if time.monotonic() > deadline:
            print(f"still {job['status']} after {timeout:.0f} s", file=sys.stderr)
            return 1
        time.sleep(1.0)
    if job["status"] == "failed":
        print(f"failed: {job['failure_reason']}")
        return 1
    outcome = job["outcome"]
    print(f"succeeded: {outcome['algorithm']} {outcome['params']['hyperparameters']}")
    for name, value in sorted(outcome["metrics"].items()):
        print(f"  {name:<20} {value:.4f}")
    print(f"  artifact {outcome['artifact']['uri']} ({outcome['artifact']['size']} bytes)")
    return 0


def run_jobs(args: argparse.Namespace) -> int:
    from modelbus.client import ServiceClient

    client = ServiceClient("trainer")
    if args.job_id:
        print(json.dumps(client.get(f"/v1/jobs/{args.job_id}"), indent=2))
        return 0
    params = {
        k: v
        for k, v in {"model": args.model, "status": args.status, "limit": args.limit}.items()
        if v is not None
    }
    for job in client.get("/v1/jobs", params=params)["jobs"]:
        print(
            f"{job['job_id']}  {job['model_name']:<24} {job['status']:<10} "
            f"{job['reason']:<12} {job['created_at']}  {job['progress']}"
        )
    return 0
