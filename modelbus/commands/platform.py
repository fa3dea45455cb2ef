"""Running modelbus: one service, the whole local stack, and the AsyncAPI document."""

from __future__ import annotations

import argparse
import asyncio
import importlib
import sys
from pathlib import Path
from typing import Any

SERVICES = ("registry", "trainer", "governance", "deployer", "monitor")
# Not a bus service: the web console, which only calls the services' HTTP APIs.
CONSOLE = "console"
ASYNCAPI_PATH = Path("docs/asyncapi.json")
ARCHITECTURE_PATH = Path("docs/ARCHITECTURE.md")
PROFILE_SCHEMA_PATH = Path("docs/reference-profile.schema.json")


def register(subparsers: Any) -> None:
    service = subparsers.add_parser("service", help="run one service in the foreground")
    service.add_argument("name", choices=(*SERVICES, CONSOLE))
    service.set_defaults(func=run_service)

    up = subparsers.add_parser("up", help="start the whole platform on embedded defaults")
    up.add_argument(
        "--replicas",
        type=int,
        default=None,
        help="run each service this many times (replica r listens on its port + (r-1)*100)",
    )
    up.set_defaults(func=run_up)

    asyncapi = subparsers.add_parser(
        "asyncapi",
        help="write or check the AsyncAPI document, the topic table and the reference "
        "profile schema in the docs",
    )
    asyncapi.add_argument("--check", action="store_true", help="exit 1 if any is stale")
    asyncapi.add_argument("--path", type=Path, default=ASYNCAPI_PATH)
    asyncapi.set_defaults(func=run_asyncapi)


def run_service(args: argparse.Namespace) -> int:
    if args.name == CONSOLE:
        from console.server import serve

        return serve()
    from shared.runtime import run_service as run

    definition = importlib.import_module(f"services.{args.name}.bootstrap").definition()
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    asyncio.run(run(definition))
    return 0


def run_up(args: argparse.Namespace) -> int:
    from modelbus.stack import run_up as up

    overrides = {"replicas": args.replicas} if args.replicas is not None else {}
    return up(**overrides)


def run_asyncapi(args: argparse.Namespace) -> int:
    from shared.events.asyncapi import render
    from shared.events.reference_profile import schema_document
    from shared.events.topic_table import with_table

    wanted = {
        args.path: render(),
        ARCHITECTURE_PATH: with_table(ARCHITECTURE_PATH.read_text()),
        PROFILE_SCHEMA_PATH: schema_document(),
    }
    stale = [path for path, text in wanted.items() if not path.exists() or path.read_text() != text]
    if args.check:
        for path in stale:
            print(f"{path} is stale: run `modelbus asyncapi`", file=sys.stderr)
        if not stale:
            print(
                f"{args.path}, the topic table in {ARCHITECTURE_PATH} and "
                f"{PROFILE_SCHEMA_PATH} are current"
            )
        return 1 if stale else 0
    for path in stale:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(wanted[path])
        print(f"wrote {path}")
    return 0
