"""``modelbus predict NAME --json '{...}'``: one inference from the shell.

The JSON is either a full Open Inference Protocol request (``{"inputs": [...]}``) or, more
conveniently, ``{"input name": nested list}``: datatypes then come from the model's
metadata and shapes from the nesting of the lists.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from shared.errors import InvalidInput


def register(subparsers: Any) -> None:
    predict = subparsers.add_parser("predict", help="send one inference request")
    predict.add_argument("name", help="model name")
    predict.add_argument(
        "--json",
        required=True,
        dest="payload",
        help='a V2 request, or {"input": [[...]]} by input name',
    )
    predict.add_argument("--version", type=int, help="a specific version (default: routed)")
    predict.set_defaults(func=run_predict)


def shape_of(data: Any) -> list[int]:
    shape = []
    while isinstance(data, list):
        shape.append(len(data))
        data = data[0] if data else None
    return shape


def to_request(payload: dict[str, Any], metadata: dict[str, Any]) -> dict[str, Any]:
    if isinstance(payload.get("inputs"), list):
        return payload
    datatypes = {t["name"]: t["datatype"] for t in metadata["inputs"]}
    unknown = sorted(set(payload) - set(datatypes))
    if unknown:
        raise InvalidInput(
            f"unknown input(s) {', '.join(unknown)}; the model takes {', '.join(sorted(datatypes))}"
        )
    return {
        "inputs": [
            {"name": name, "datatype": datatypes[name], "shape": shape_of(data), "data": data}
            for name, data in payload.items()
        ]
    }


def run_predict(args: argparse.Namespace) -> int:
    from modelbus.client import ServiceClient  # imported late: the CLI starts fast

    try:
        payload = json.loads(args.payload)
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"--json is not valid JSON: {exc}") from exc
    if not isinstance(payload, dict):
        raise InvalidInput("--json must be a JSON object")
    base = f"/v2/models/{args.name}"
    if args.version is not None:
        base += f"/versions/{args.version}"
    client = ServiceClient("deployer")
    metadata = {} if isinstance(payload.get("inputs"), list) else client.get(base)
    answer = client.post(f"{base}/infer", json=to_request(payload, metadata))
    print(json.dumps(answer, indent=2))
    return 0
