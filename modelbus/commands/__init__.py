"""Subcommands of the ``modelbus`` CLI, one module per area."""
