"""``modelbus service console``: the console's HTTP server in the foreground."""

from __future__ import annotations

import logging

import uvicorn

from console.app import create_app
from console.settings import ConsoleSettings
from shared.logging import configure_logging


def serve(settings: ConsoleSettings | None = None) -> int:
    settings = settings or ConsoleSettings()
    configure_logging("console")
    # One line per forwarded call would drown the log; failures are shown on the pages.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_level="warning",
        access_log=False,
        proxy_headers=False,
    )
    return 0
