"""`modelbus up` on the embedded defaults: every service and the console become ready,
SIGINT stops them all."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import httpx
import psutil
import pytest

from modelbus.embedded import pick_free_port
from shared.settings import DEFAULT_PORTS

pytestmark = pytest.mark.e2e


def _ready(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def test_up_starts_everything_on_embedded_defaults_and_sigint_leaves_nothing() -> None:
    ports = {name: pick_free_port() for name in (*DEFAULT_PORTS, "console")}
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODELBUS_")}
    env.update({f"MODELBUS_{name.upper()}_PORT": str(port) for name, port in ports.items()})
    env.update(
        # Not under tmp_path: pytest makes that 0700, and embedded Postgres runs unprivileged.
        MODELBUS_HOME=tempfile.mkdtemp(prefix="modelbus-e2e-up-"),
        MODELBUS_POSTGRES_PORT=str(pick_free_port()),
        MODELBUS_KAFKA_PORT=str(pick_free_port()),
        MODELBUS_GOVERNANCE_AUDIT_KEY="e2e-" + os.urandom(16).hex(),
    )
    up = subprocess.Popen(
        [sys.executable, "-m", "modelbus", "up"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 150
        while not all(_ready(p) for p in ports.values()):
            assert up.poll() is None, (
                f"modelbus up exited early:\n{up.stdout.read() if up.stdout else ''}"
            )
            assert time.monotonic() < deadline, "services not ready within 150 s"
            time.sleep(0.5)
        children = psutil.Process(up.pid).children(recursive=True)
        assert len(children) >= 8  # five services, the console, Postgres, the broker
    finally:
        up.send_signal(signal.SIGINT)
        output, _ = up.communicate(timeout=90)
        shutil.rmtree(env["MODELBUS_HOME"], ignore_errors=True)
    assert up.returncode == 0, output
    for name, port in ports.items():
        assert str(port) in output, f"{name}'s endpoint is not printed"
    _, alive = psutil.wait_procs(children, timeout=10)
    assert not alive, f"left behind: {[p.pid for p in alive]}"
