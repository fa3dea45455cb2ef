"""One alert per episode, resolution after enough clean windows, unjudged windows neutral."""

from __future__ import annotations

from services.monitor.analysis.episodes import step


def run(windows: list[bool | None], recovery: int) -> list[str]:
    actions, is_open, clean = [], False, 0
    for bad in windows:
        s = step(is_open, clean, bad, recovery)
        actions.append(s.action)
        clean = s.clean_windows
        is_open = (is_open or s.action == "open") and s.action != "resolve"
    return actions


def test_an_episode_opens_once_and_resolves_after_recovery() -> None:
    assert run([False, True, True, True, False, False, True], recovery=2) == [
        "none",
        "open",
        "keep",
        "keep",
        "keep",
        "resolve",
        "open",
    ]


def test_a_bad_window_restarts_the_recovery_count() -> None:
    assert run([True, False, True, False, False], recovery=2) == [
        "open",
        "keep",
        "keep",
        "keep",
        "resolve",
    ]


def test_unjudged_windows_neither_extend_nor_clear() -> None:
    assert run([True, None, False, None, False], recovery=2) == [
        "open",
        "none",
        "keep",
        "none",
        "resolve",
    ]


def test_a_window_not_clearly_recovered_keeps_the_episode_open() -> None:
    actions, is_open, clean = [], False, 0
    for bad, clear in [(True, False), (False, False), (False, False), (False, True), (False, True)]:
        s = step(is_open, clean, bad, recovery=2, clear=clear)
        actions.append(s.action)
        clean = s.clean_windows
        is_open = (is_open or s.action == "open") and s.action != "resolve"
    assert actions == ["open", "keep", "keep", "keep", "resolve"]
