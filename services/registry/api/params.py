"""Path and query parameters every registry route reads the same way."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import Path, Query

from services.registry.domain.names import MODEL_NAME_PATTERN

ModelName = Annotated[str, Path(pattern=MODEL_NAME_PATTERN, description="the model's name")]
# Versions are Postgres integers: a larger number is invalid input, not a failed query.
Version = Annotated[int, Path(ge=1, le=2**31 - 1, description="a version number")]
At = Annotated[datetime | None, Query(description="ISO 8601 time (UTC if no zone); default: now")]


def as_utc(at: datetime | None) -> datetime | None:
    """A ``?at=`` time; one without a zone is taken as UTC."""
    if at is not None and at.tzinfo is None:
        return at.replace(tzinfo=UTC)
    return at
