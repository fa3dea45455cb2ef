"""structlog JSON logs; every line carries the service and, inside a handler, the event's ids."""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from contextvars import ContextVar
from typing import Any

import structlog

# The event a consumer's handler is handling: (event id, correlation id, model). Set per
# event by shared.bus.consumer; read only when a line is actually logged, so handling an
# event costs one ContextVar.set, not a binding of three log fields.
HANDLING: ContextVar[tuple[str, str, str | None] | None] = ContextVar(
    "modelbus_handling", default=None
)


def add_handled_event(
    _: Any, __: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog processor: the handled event's ids on every line logged while handling it."""
    handling = HANDLING.get()
    if handling is not None:
        event_id, correlation_id, model = handling
        event_dict.setdefault("event_id", event_id)
        event_dict.setdefault("correlation_id", correlation_id)
        event_dict.setdefault("model", model)
    return event_dict


def configure_logging(service: str, level: str = "INFO") -> None:
    logging.basicConfig(format="%(message)s", stream=sys.stderr, level=level.upper())
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            add_handled_event,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
        cache_logger_on_first_use=True,
    )
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(service=service)
