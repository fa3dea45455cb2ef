"""One error hierarchy for modelbus: each error knows its HTTP status and whether a retry can help.

Consumers use ``retryable`` to decide between retrying with backoff (the world may get
better: a database restart, a broker election) and dead-lettering (the input itself is
wrong and will be wrong forever).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from shared.events.common import Payload


class ModelbusError(Exception):
    status_code: int = 500
    retryable: bool = False
    code: str = "internal_error"

    def __init__(self, message: str, *, detail: dict[str, object] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail or {}

    def to_dict(self) -> dict[str, object]:
        body: dict[str, object] = {"error": self.message, "code": self.code}
        if self.detail:
            body["detail"] = self.detail
        return body


class InvalidInput(ModelbusError):
    status_code = 400
    code = "invalid_input"


class InvalidEvent(InvalidInput):
    """An event that cannot be decoded or validated; it goes to the dead-letter topic."""

    code = "invalid_event"


class Refused(InvalidInput):
    """Well-formed input refused for good, with events that tell its sender why.

    Raised by a handler, its event is dead-lettered and ``notices`` are emitted (caused by
    the refused event) in the transaction that marks the event handled, so both happen
    exactly once, while the handler's own writes are rolled back: nothing refused is kept.
    """

    status_code = 422
    code = "refused"

    def __init__(
        self,
        message: str,
        *,
        notices: Sequence[Payload] = (),
        status_code: int | None = None,
        detail: dict[str, object] | None = None,
    ) -> None:
        super().__init__(message, detail=detail)
        self.notices = tuple(notices)
        if status_code is not None:
            self.status_code = status_code


class Unauthorized(ModelbusError):
    status_code = 401
    code = "unauthorized"


class Forbidden(ModelbusError):
    status_code = 403
    code = "forbidden"


class NotFound(ModelbusError):
    status_code = 404
    code = "not_found"


class Conflict(ModelbusError):
    status_code = 409
    code = "conflict"


class TooManyRequests(ModelbusError):
    """A client over a limit (failed token checks); ``retry_after_s`` says when to retry."""

    status_code = 429
    code = "too_many_requests"

    def __init__(self, message: str, *, retry_after_s: float) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class PayloadTooLarge(ModelbusError):
    status_code = 413
    code = "payload_too_large"


class ArtifactCorrupt(InvalidInput):
    """Stored or submitted bytes whose SHA-256 differs from the one announced."""

    status_code = 422
    code = "artifact_corrupt"


class Unavailable(ModelbusError):
    """A dependency (database, broker, artifact store) cannot be reached right now."""

    status_code = 503
    retryable = True
    code = "unavailable"


class _HasErrors(Protocol):
    def errors(self) -> Sequence[Any]: ...


def describe_validation(
    exc: _HasErrors,
    *,
    limit: int = 5,
    root: str = "(root)",
    where: Callable[[Sequence[Any]], str] | None = None,
) -> str:
    """A validation error (pydantic's, or FastAPI's for a request) as one line of
    ``where: what`` for the first ``limit`` problems; ``where`` names a location
    (default: dotted, ``root`` for the whole value).

    Locations and pydantic's messages only, never the offending input values: the text goes
    back to callers and into dead letters, and must not echo what was sent.
    """
    errors = list(exc.errors())
    parts = []
    for err in errors[:limit]:
        loc = err["loc"]
        place = where(loc) if where is not None else ".".join(str(p) for p in loc) or root
        parts.append(f"{place}: {err['msg']}")
    more = len(errors) - len(parts)
    return "; ".join(parts) + (f" (+{more} more)" if more > 0 else "")
