"""Keeping the services of ``modelbus up`` running: restart what exits, give up loudly.

A service that exits (crash, SIGKILL, OOM) is restarted after a capped exponential backoff
(``RestartPolicy``): the first restart comes at once, later ones wait longer, never more
than ``cap_s``. The others keep running and serving meanwhile. A service that exits
``max_crashes`` times within ``window_s`` is given up, and only that one: it says so on
stderr with the tail of its log, and ``modelbus up`` goes on with the rest (it stops
only once every service has been given up).

Each exit is reported with the time, the exit status and the restart counter; the
counter also reaches the restarted process as ``MODELBUS_SUPERVISOR_RESTARTS`` (exposed
on its ``/metrics`` as ``modelbus_supervisor_restarts``), and the state of every
service is kept in ``home/status.json`` for tools and tests.

Invariant: a service's process group is killed as soon as its leader's exit is seen, so
a child it had spawned can never outlive it across a restart (services run in their own
session, so the group is exactly the service and its children).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol


class Supervisable(Protocol):
    """What the supervisor needs of a service process (``subprocess.Popen`` has it)."""

    pid: int

    def poll(self) -> int | None: ...


@dataclass(frozen=True)
class RestartPolicy:
    initial_s: float = 0.5
    cap_s: float = 8.0
    max_crashes: int = 5
    window_s: float = 120.0

    def delay(self, crashes_in_window: int) -> float:
        """The wait before restarting after the ``crashes_in_window``-th recent exit."""
        if crashes_in_window <= 1:
            return 0.0
        return float(min(self.cap_s, self.initial_s * 2 ** (crashes_in_window - 2)))


def describe_exit(code: int) -> str:
    """``exit code 1`` or ``killed by SIGKILL``, from a Popen return code."""
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


@dataclass
class ServiceState:
    """What the supervisor knows about one service."""

    name: str
    url: str
    state: str = "running"  # running (maybe not ready yet), restarting, given up
    restarts: int = 0
    last_exit: str | None = None
    last_exit_at: str | None = None  # UTC, ISO 8601
    restart_at: float | None = None  # monotonic
    exited_at: float | None = None  # monotonic, of the exit being recovered from
    crashes: deque[float] = field(default_factory=deque)

    def as_json(self) -> dict[str, object]:
        return {
            "url": self.url,
            "state": self.state,
            "restarts": self.restarts,
            "last_exit": self.last_exit,
            "last_exit_at": self.last_exit_at,
        }


class Supervisor:
    """Decides, on each ``check()``, which exited services to restart or give up.

    ``respawn(name, restarts)`` starts a service's process again and returns it;
    ``report(line, loud)`` prints what happened. Both are injected, and so is the clock,
    so the policy can be tested without processes.
    """

    def __init__(
        self,
        processes: dict[str, Supervisable],
        urls: dict[str, str],
        *,
        respawn: Callable[[str, int], Supervisable],
        report: Callable[[str, bool], None],
        policy: RestartPolicy | None = None,
        status_path: Path | None = None,
        failure_detail: Callable[[str], str] = lambda name: "",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.processes = processes
        self.states = {name: ServiceState(name, urls[name]) for name in processes}
        self.respawn = respawn
        self.report = report
        self.policy = policy or RestartPolicy()
        self.status_path = status_path
        self.failure_detail = failure_detail
        self.clock = clock
        self.write_status()

    @property
    def all_given_up(self) -> bool:
        return all(s.state == "given up" for s in self.states.values())

    def check(self) -> None:
        """Notice exits, restart what is due, give up on what crashes too often."""
        changed = False
        now = self.clock()
        for name, state in self.states.items():
            if state.state == "running":
                code = self.processes[name].poll()
                if code is not None:
                    self._exited(state, code, now)
                    changed = True
            if state.state == "restarting" and state.restart_at is not None:
                if now >= state.restart_at:
                    state.restarts += 1
                    state.state, state.restart_at = "running", None
                    self.processes[name] = self.respawn(name, state.restarts)
                    self.report(f"{name}: restarted (restart {state.restarts})", False)
                    changed = True
        if changed:
            self.write_status()

    def _exited(self, state: ServiceState, code: int, now: float) -> None:
        kill_group(self.processes[state.name].pid)
        state.last_exit = describe_exit(code)
        state.last_exit_at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        state.exited_at = now
        state.crashes.append(now)
        while state.crashes and now - state.crashes[0] > self.policy.window_s:
            state.crashes.popleft()
        if len(state.crashes) >= self.policy.max_crashes:
            state.state = "given up"
            detail = self.failure_detail(state.name)
            self.report(
                f"GIVING UP on {state.name}: {state.last_exit}, its {len(state.crashes)}th exit "
                f"within {self.policy.window_s:.0f}s (restarted {state.restarts} times); "
                f"the other services keep running{detail}",
                True,
            )
            return
        delay = self.policy.delay(len(state.crashes))
        state.state, state.restart_at = "restarting", now + delay
        self.report(
            f"{state.name}: {state.last_exit} at {state.last_exit_at}; restarting in "
            f"{delay:.1f}s (restart {state.restarts + 1}, exit {len(state.crashes)} of "
            f"{self.policy.max_crashes} allowed within {self.policy.window_s:.0f}s)",
            True,
        )

    def recovering(self) -> dict[str, float]:
        """Services restarted and not yet seen ready: name -> when the exit was seen."""
        return {
            n: s.exited_at
            for n, s in self.states.items()
            if s.state == "running" and s.exited_at is not None
        }

    def ready_again(self, name: str) -> None:
        state = self.states[name]
        if state.exited_at is None:
            return
        took = self.clock() - state.exited_at
        state.exited_at = None
        self.report(
            f"{name}: ready again at {state.url}, {took:.1f}s after its exit "
            f"(restart {state.restarts})",
            False,
        )

    def summary(self) -> str:
        rows = [
            f"  {s.name:<12} {s.state:<10} restarts {s.restarts}"
            + (f", last {s.last_exit} at {s.last_exit_at}" if s.last_exit else "")
            for s in self.states.values()
        ]
        return "\n".join(rows)

    def write_status(self) -> None:
        """``status.json``, replaced atomically so a reader never sees half of it."""
        if self.status_path is None:
            return
        document = {"services": {n: s.as_json() for n, s in self.states.items()}}
        tmp = self.status_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(document, indent=2))
        os.replace(tmp, self.status_path)


def kill_group(pid: int) -> None:
    """SIGKILL what is left of a service's process group (its leader has exited)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)
