"""The ``modelbus`` command. Each area adds its subcommands from a module in ``modelbus.commands``."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

# Each module has ``register(subparsers)``; a subcommand's parser sets ``func(args) -> int``.
COMMAND_MODULES = [
    "modelbus.commands.platform",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="modelbus", description="Event-driven ModelOps platform")
    subparsers = parser.add_subparsers(dest="command", required=True)
    for module_name in COMMAND_MODULES:
        importlib.import_module(module_name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # a CLI user gets one clear line, not a traceback
        from shared.errors import ModelbusError

        if isinstance(exc, ModelbusError):
            print(f"error: {exc.message}", file=sys.stderr)
            return 1
        raise
