"""Running modelbus: one service, the whole local stack, and the AsyncAPI document."""

from __future__ import annotations

import argparse
import asyncio
import importlib
import sys
from pathlib import Path
from typing import Any

SERVICES = ("registry", "trainer", "governance", "deployer", "monitor")
ASYNCAPI_PATH = Path("docs/asyncapi.json")


def register(subparsers: Any) -> None:
    service = subparsers.add_parser("service", help="run one service in the foreground")
    service.add_argument("name", choices=SERVICES)
    service.set_defaults(func=run_service)

    up = subparsers.add_parser("up", help="start the whole platform on embedded defaults")
    up.set_defaults(func=run_up)

    asyncapi = subparsers.add_parser("asyncapi", help="write or check the AsyncAPI document")
    asyncapi.add_argument("--check", action="store_true", help="exit 1 if the file is stale")
    asyncapi.add_argument("--path", type=Path, default=ASYNCAPI_PATH)
    asyncapi.set_defaults(func=run_asyncapi)


def run_service(args: argparse.Namespace) -> int:
    from shared.runtime import run_service as run

    definition = importlib.import_module(f"services.{args.name}.bootstrap").DEFINITION
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    asyncio.run(run(definition))
    return 0


def run_up(args: argparse.Namespace) -> int:
    from modelbus.stack import run_up as up

    return up()


def run_asyncapi(args: argparse.Namespace) -> int:
    from shared.events.asyncapi import render

    current = render()
    if args.check:
        if not args.path.exists() or args.path.read_text() != current:
            print(f"{args.path} is stale: run `modelbus asyncapi`", file=sys.stderr)
            return 1
        print(f"{args.path} is current")
        return 0
    args.path.parent.mkdir(parents=True, exist_ok=True)
    args.path.write_text(current)
    print(f"wrote {args.path}")
    return 0
