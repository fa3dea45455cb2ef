"""Path and query parameters every registry route reads the same way."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import Path, Query

from services.registry.domain.names import MODEL_NAME_PATTERN
from shared.http.params import Version

__all__ = ["At", "ModelName", "Version", "as_utc"]

ModelName = Annotated[str, Path(pattern=MODEL_NAME_PATTERN, description="the model's name")]
At = Annotated[datetime | None, Query(description="ISO 8601 time (UTC if no zone); default: now")]


def as_utc(at: datetime | None) -> datetime | None:
    """A ``?at=`` time; one without a zone is taken as UTC."""
    if at is not None and at.tzinfo is None:
        return at.replace(tzinfo=UTC)
    return at
