"""Which failures are worth waiting out, and how long to wait between attempts."""

from __future__ import annotations

import asyncio
import random
from typing import Any

from aiokafka.errors import KafkaConnectionError, KafkaTimeoutError, NotLeaderForPartitionError

from shared.errors import ModelbusError
from shared.store.db import TRANSIENT_DB_ERRORS

_TRANSIENT_KAFKA = (KafkaConnectionError, KafkaTimeoutError, NotLeaderForPartitionError)


def is_transient(exc: BaseException) -> bool:
    """True when retrying the same work later can succeed (an outage, not bad input)."""
    if isinstance(exc, ModelbusError):
        return exc.retryable
    return isinstance(exc, TRANSIENT_DB_ERRORS + _TRANSIENT_KAFKA)


class Backoff:
    """Exponential backoff with jitter, capped so recovery is noticed within ``cap_s``."""

    def __init__(self, initial_s: float = 0.1, cap_s: float = 5.0) -> None:
        self.initial_s = initial_s
        self.cap_s = cap_s
        self.attempt = 0

    def reset(self) -> None:
        self.attempt = 0

    def next_delay(self) -> float:
        delay = min(self.cap_s, self.initial_s * 2**self.attempt)
        self.attempt += 1
        return float(delay * random.uniform(0.5, 1.0))

    async def wait(self, log: Any, what: str, exc: BaseException) -> None:
        delay = self.next_delay()
        log.warning(what, attempt=self.attempt, delay_s=round(delay, 3), error=repr(exc)[:500])
        await asyncio.sleep(delay)
