"""``modelbus up`` as a process, with stand-in services: a killed service comes back and
the others keep serving, one that keeps dying is given up alone and loudly, and SIGINT
leaves no process behind, not even a child of a service that was killed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import psutil
import pytest

from modelbus.embedded import pick_free_port
from modelbus.stack import SERVICES

STANDIN = Path(__file__).resolve().parents[2] / "support" / "standin_service.py"


def ready(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1, trust_env=False).is_success
    except httpx.HTTPError:
        return False


def wait(condition: Callable[[], bool], what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"{what} not reached within {timeout}s"
        time.sleep(0.1)


@pytest.fixture
def up(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], dict[str, int], Path]]:
    ports = {name: pick_free_port() for name in SERVICES}
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODELBUS_")}
    env.update({f"MODELBUS_{name.upper()}_PORT": str(port) for name, port in ports.items()})
    env.update(
        MODELBUS_CONSOLE_PORT=str(pick_free_port()),
        MODELBUS_DEPLOYER_GRPC_PORT=str(pick_free_port()),
        MODELBUS_HOME=str(tmp_path),
        # Given, so nothing is embedded: the stand-ins never connect to them.
        MODELBUS_DATABASE_URL="postgresql://unused@127.0.0.1:1/unused",
        MODELBUS_KAFKA_BOOTSTRAP="127.0.0.1:1",
        MODELBUS_GOVERNANCE_AUDIT_KEY="unit-" + os.urandom(8).hex(),
        MODELBUS_SERVICE_COMMAND=json.dumps([sys.executable, str(STANDIN)]),
        MODELBUS_RESTART_MAX_CRASHES="3",
        MODELBUS_RESTART_BACKOFF_CAP_S="0.2",
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "modelbus", "up"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        wait(lambda: all(ready(p) for p in ports.values()), "every stand-in ready")
        # Supervision starts once the whole stack is up (the console too) and writes its
        # first status then: a kill before it would be a failed start, not a crash.
        wait(lambda: (tmp_path / "status.json").exists(), "supervision started")
        yield proc, ports, tmp_path / "status.json"
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            proc.wait(30)


def gone(proc: psutil.Process) -> bool:
    """Dead, or a zombie waiting for whichever init reaps orphans here."""
    try:
        return proc.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def status(path: Path) -> dict[str, dict[str, object]]:
    services: dict[str, dict[str, object]] = json.loads(path.read_text())["services"]
    return services


def pid_of(up: subprocess.Popen[str], name: str) -> int:
    for child in psutil.Process(up.pid).children():
        if child.cmdline()[-1] == name:
            return child.pid
    raise AssertionError(f"no {name} process")


def test_a_killed_service_is_restarted_and_given_up_alone_when_it_keeps_dying(
    up: tuple[subprocess.Popen[str], dict[str, int], Path],
) -> None:
    proc, ports, status_path = up
    every_process = psutil.Process(proc.pid).children(recursive=True)
    monitor = psutil.Process(pid_of(proc, "monitor"))
    monitors_child = monitor.children()[0]
    monitor.kill()
    wait(lambda: status(status_path)["monitor"]["restarts"] == 1, "monitor restarted")
    wait(lambda: ready(ports["monitor"]), "monitor ready again")
    assert status(status_path)["monitor"]["last_exit"] == "killed by SIGKILL"
    # The killed service's own child went with it; every other service kept its process.
    assert gone(monitors_child)
    assert all(ready(ports[name]) for name in SERVICES)

    psutil.Process(pid_of(proc, "monitor")).kill()
    wait(lambda: status(status_path)["monitor"]["restarts"] == 2, "monitor restarted again")
    wait(lambda: ready(ports["monitor"]), "monitor ready after its second exit")
    psutil.Process(pid_of(proc, "monitor")).kill()  # the third exit within the window
    wait(lambda: status(status_path)["monitor"]["state"] == "given up", "monitor given up")
    assert proc.poll() is None, "modelbus up stopped although other services run"
    assert all(ready(ports[name]) for name in SERVICES if name != "monitor")

    everything = psutil.Process(proc.pid).children(recursive=True) + every_process
    proc.send_signal(signal.SIGINT)
    output, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, output
    assert "GIVING UP on monitor" in output and "killed by SIGKILL" in output
    assert "monitor      given up   restarts 2" in output
    _, alive = psutil.wait_procs(everything, timeout=10)
    alive = [p for p in alive if not gone(p)]
    assert not alive, f"left behind: {alive}"
