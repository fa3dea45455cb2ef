"""The token authority's memory: bounded LRUs with a time to live, and a per-client limit."""

from __future__ import annotations

from shared.http.token_cache import AnswerCache, FailureLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_answers_expire_and_the_least_recently_used_goes_first() -> None:
    clock = Clock()
    cache: AnswerCache[str] = AnswerCache(2, ttl_s=10, clock=clock)
    cache.put("a", "A")
    cache.put("b", "B")
    assert cache.get("a") == "A"  # a is now the most recent
    cache.put("c", "C")
    assert (cache.get("a"), cache.get("b"), cache.get("c")) == ("A", None, "C")
    clock.now = 11
    assert cache.get("a") is None and len(cache) == 1
    cache.evict(lambda v: v == "C")
    assert len(cache) == 0


def test_a_client_failing_too_often_waits_and_others_do_not() -> None:
    clock = Clock()
    limiter = FailureLimiter(3, window_s=60, clock=clock)
    for _ in range(3):
        assert limiter.retry_after("10.0.0.1") is None
        limiter.failed("10.0.0.1")
    wait = limiter.retry_after("10.0.0.1")
    assert wait is not None and 19 < wait <= 20  # one failure back every 20 s
    assert limiter.retry_after("10.0.0.2") is None
    clock.now = 20
    assert limiter.retry_after("10.0.0.1") is None


def test_the_clients_tracked_are_bounded() -> None:
    limiter = FailureLimiter(1, window_s=60, clients=2)
    for client in ("a", "b", "c"):
        limiter.failed(client)
    assert limiter.retry_after("a") is None  # forgotten, the oldest
    assert limiter.retry_after("c") is not None
