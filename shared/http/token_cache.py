"""What the token authority remembers between checks: recent answers, and who keeps failing.

* :class:`AnswerCache`: an LRU of recent answers with a time to live. Valid tokens and
  invalid ones are kept apart, so a flood of made-up tokens can only evict other made-up
  tokens, never a real caller's cached answer.
* :class:`FailureLimiter`: a token bucket per client address; each failed check takes one
  token, so a client that keeps presenting bad tokens is refused (429, ``Retry-After``)
  before its next check costs a database round trip. The clients tracked are bounded too.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, TypeVar

V = TypeVar("V")


class AnswerCache(Generic[V]):
    """At most ``size`` answers, each for ``ttl_s``; the least recently used goes first."""

    def __init__(self, size: int, ttl_s: float, clock: Callable[[], float] = time.monotonic):
        self.size = size
        self.ttl_s = ttl_s
        self.clock = clock
        self._entries: OrderedDict[str, tuple[float, V]] = OrderedDict()

    def get(self, key: str) -> V | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry[0] <= self.clock():
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return entry[1]

    def put(self, key: str, value: V) -> None:
        self._entries[key] = (self.clock() + self.ttl_s, value)
        self._entries.move_to_end(key)
        while len(self._entries) > self.size:
            self._entries.popitem(last=False)

    def evict(self, matches: Callable[[V], bool]) -> None:
        for key in [k for k, (_, v) in self._entries.items() if matches(v)]:
            del self._entries[key]

    def __len__(self) -> int:
        return len(self._entries)


class FailureLimiter:
    """``max_failures`` failed checks per ``window_s`` per client, refilled continuously."""

    def __init__(
        self,
        max_failures: int,
        window_s: float,
        *,
        clients: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.capacity = float(max_failures)
        self.rate = max_failures / window_s  # tokens per second
        self.clients = clients
        self.clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # tokens, at

    def retry_after(self, client: str) -> float | None:
        """Seconds until ``client`` may be checked again, or None if it may be now."""
        tokens = self._tokens(client)
        return None if tokens >= 1 else (1 - tokens) / self.rate

    def failed(self, client: str) -> None:
        self._buckets[client] = (self._tokens(client) - 1, self.clock())
        self._buckets.move_to_end(client)
        while len(self._buckets) > self.clients:
            self._buckets.popitem(last=False)

    def _tokens(self, client: str) -> float:
        bucket = self._buckets.get(client)
        if bucket is None:
            return self.capacity
        tokens, at = bucket
        return min(self.capacity, tokens + (self.clock() - at) * self.rate)
