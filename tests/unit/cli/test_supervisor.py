"""The restart policy of ``modelbus up``, on fake processes and a fake clock."""

from __future__ import annotations

import json
import signal
from pathlib import Path

from modelbus.supervisor import RestartPolicy, Supervisor, describe_exit


class FakeProcess:
    next_pid = 1_000_000  # far above pid_max, so kill_group finds nothing to kill

    def __init__(self) -> None:
        FakeProcess.next_pid += 1
        self.pid = FakeProcess.next_pid
        self.code: int | None = None

    def poll(self) -> int | None:
        return self.code


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def make(tmp_path: Path, policy: RestartPolicy) -> tuple[Supervisor, Clock, list[str]]:
    clock, lines = Clock(), []
    supervisor = Supervisor(
        {"monitor": FakeProcess(), "deployer": FakeProcess()},
        {"monitor": "http://m", "deployer": "http://d"},
        respawn=lambda name, restarts: FakeProcess(),
        report=lambda line, loud: lines.append(("LOUD " if loud else "") + line),
        policy=policy,
        status_path=tmp_path / "status.json",
        clock=clock,
    )
    return supervisor, clock, lines


def kill(supervisor: Supervisor, name: str) -> None:
    proc = supervisor.processes[name]
    assert isinstance(proc, FakeProcess)
    proc.code = -signal.SIGKILL


def test_backoff_starts_at_once_and_is_capped() -> None:
    policy = RestartPolicy(initial_s=0.5, cap_s=4.0)
    assert [policy.delay(n) for n in range(1, 7)] == [0.0, 0.5, 1.0, 2.0, 4.0, 4.0]


def test_exit_status_names_the_signal() -> None:
    assert describe_exit(-9) == "killed by SIGKILL"
    assert describe_exit(3) == "exit code 3"


def test_a_killed_service_is_restarted_and_counted_others_untouched(tmp_path: Path) -> None:
    supervisor, clock, lines = make(tmp_path, RestartPolicy())
    deployer = supervisor.processes["deployer"]
    kill(supervisor, "monitor")
    supervisor.check()
    assert supervisor.states["monitor"].restarts == 1  # the first restart is immediate
    assert supervisor.processes["monitor"].poll() is None
    assert supervisor.processes["deployer"] is deployer
    assert any("monitor: killed by SIGKILL" in line and line.startswith("LOUD") for line in lines)
    status = json.loads((tmp_path / "status.json").read_text())["services"]
    assert (
        status["monitor"]["restarts"] == 1 and status["monitor"]["last_exit"] == "killed by SIGKILL"
    )
    assert status["deployer"] == {**status["deployer"], "restarts": 0, "state": "running"}

    assert supervisor.recovering() == {"monitor": clock.now}
    clock.now += 3
    supervisor.ready_again("monitor")
    assert supervisor.recovering() == {}
    assert "monitor: ready again at http://m, 3.0s after its exit (restart 1)" in lines


def test_a_second_exit_waits_for_the_backoff(tmp_path: Path) -> None:
    supervisor, clock, _ = make(tmp_path, RestartPolicy(initial_s=2.0))
    kill(supervisor, "monitor")
    supervisor.check()
    kill(supervisor, "monitor")
    supervisor.check()
    assert supervisor.states["monitor"].state == "restarting"
    clock.now += 1.9
    supervisor.check()
    assert supervisor.states["monitor"].restarts == 1
    clock.now += 0.2
    supervisor.check()
    assert supervisor.states["monitor"].restarts == 2
    assert supervisor.states["monitor"].state == "running"


def test_too_many_exits_in_the_window_give_up_on_that_service_only(tmp_path: Path) -> None:
    policy = RestartPolicy(initial_s=0.1, cap_s=0.1, max_crashes=3, window_s=60)
    supervisor, clock, lines = make(tmp_path, policy)
    for _ in range(3):
        kill(supervisor, "monitor")
        supervisor.check()
        clock.now += 1
        supervisor.check()
    assert supervisor.states["monitor"].state == "given up"
    assert supervisor.states["deployer"].state == "running"
    assert not supervisor.all_given_up
    assert any(line.startswith("LOUD GIVING UP on monitor") for line in lines)
    given_up = supervisor.processes["monitor"]
    clock.now += 1000
    supervisor.check()
    assert supervisor.processes["monitor"] is given_up  # never restarted again


def test_exits_spread_beyond_the_window_never_give_up(tmp_path: Path) -> None:
    policy = RestartPolicy(initial_s=0.1, cap_s=0.1, max_crashes=2, window_s=10)
    supervisor, clock, _ = make(tmp_path, policy)
    for _ in range(5):
        kill(supervisor, "monitor")
        supervisor.check()
        clock.now += 11
        supervisor.check()
    assert supervisor.states["monitor"].state == "running"
    assert supervisor.states["monitor"].restarts == 5
