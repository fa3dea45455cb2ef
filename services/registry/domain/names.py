"""What a model and an alias may be called (they appear in URLs and in event subjects)."""

from __future__ import annotations

MODEL_NAME_PATTERN = r"^[a-z0-9][a-z0-9_.-]{0,62}$"
ALIAS_PATTERN = r"^[a-z][a-z0-9_.-]{0,62}$"  # starts with a letter: never mistaken for a number
