"""Which failures are worth waiting out, and how long to wait between attempts."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from typing import Any, NoReturn, TypeVar

from aiokafka.errors import KafkaConnectionError, KafkaTimeoutError, NotLeaderForPartitionError

from shared.errors import ModelbusError
from shared.store.db import is_connection_error

T = TypeVar("T")
_TRANSIENT_KAFKA = (KafkaConnectionError, KafkaTimeoutError, NotLeaderForPartitionError)


def is_transient(exc: BaseException) -> bool:
    """True when retrying the same work later can succeed: the database or the broker
    cannot be reached (or asks for the transaction again), or a :class:`ModelbusError`
    says so. Everything else (bad input, an unreadable file, a bug) is not: waiting it
    out would block whatever is queued behind it, forever."""
    if isinstance(exc, ModelbusError):
        return exc.retryable
    return isinstance(exc, _TRANSIENT_KAFKA) or is_connection_error(exc)


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


async def retry_transient(
    operation: Callable[[], Awaitable[T]],
    *,
    log: Any,
    what: str,
    backoff: Backoff | None = None,
    attempts: int | None = None,
    on_retry: Callable[[BaseException], object] | None = None,
    every_error: bool = False,
    deadline_s: float | None = None,
) -> T:
    """``operation()``'s result, waiting out transient failures with backoff.

    Any other error propagates at once, unless ``every_error``: then it is logged with its
    traceback and retried too (for work a process cannot go on without). A transient error
    on the last of ``attempts`` propagates (default: no limit, for work that must not be
    given up), and so does one that comes more than ``deadline_s`` after the first failure.
    ``on_retry`` sees each failure that is retried (to count it).
    Logs ``<what>.retry`` for each retry and ``<what>.failed`` for each error not transient.
    """
    backoff = backoff or Backoff()
    first_failure: float | None = None
    while True:
        try:
            return await operation()
        except Exception as exc:
            transient = is_transient(exc)
            first_failure = first_failure if first_failure is not None else time.monotonic()
            if (
                not (transient or every_error)
                or (attempts is not None and backoff.attempt + 1 >= attempts)
                or (deadline_s is not None and time.monotonic() - first_failure >= deadline_s)
            ):
                raise
            if not transient:
                log.exception(f"{what}.failed")
            if on_retry is not None:
                on_retry(exc)
            await backoff.wait(log, f"{what}.retry", exc)


async def keep_running(
    step: Callable[[], Awaitable[object]],
    *,
    log: Any,
    what: str,
    backoff: Backoff | None = None,
) -> NoReturn:
    """Call ``step()`` until cancelled (it does its own waiting between useful calls).

    A background loop must outlive every failure: a transient one is waited out, any other
    is logged with its traceback and retried after the same backoff, so a bug shows in the
    logs instead of silently ending the loop.
    """
    backoff = backoff or Backoff()
    while True:
        await retry_transient(step, log=log, what=what, backoff=backoff, every_error=True)
        backoff.reset()
