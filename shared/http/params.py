"""Parameters every service reads the same way."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query

# Versions are Postgres integers: a larger number is invalid input, not a failed query.
MAX_VERSION = 2**31 - 1

Version = Annotated[int, Path(ge=1, le=MAX_VERSION, description="a version number")]
VersionQuery = Annotated[int, Query(ge=1, le=MAX_VERSION, description="a version number")]
VersionFilter = Annotated[
    int | None, Query(ge=1, le=MAX_VERSION, description="only this version (default: all)")
]
