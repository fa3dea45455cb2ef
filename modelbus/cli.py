"""The ``modelbus`` command. Each area adds its subcommands from a module in ``modelbus.commands``."""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from collections.abc import Sequence


def command_modules() -> list[str]:
    """Every module in ``modelbus.commands``; each has ``register(subparsers)`` and its
    subcommands set ``func(args) -> int``."""
    import modelbus.commands

    return sorted(
        f"modelbus.commands.{m.name}" for m in pkgutil.iter_modules(modelbus.commands.__path__)
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="modelbus", description="Event-driven ModelOps platform")
    subparsers = parser.add_subparsers(dest="command", required=True)
    for module_name in command_modules():
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
