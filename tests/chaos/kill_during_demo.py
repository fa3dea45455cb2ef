"""By hand: ``./run up``, then ``./run demo`` against it, SIGKILLing each service once.

    .venv/bin/python -m tests.chaos.kill_during_demo

What a new user would do, scripted: start ``modelbus up`` (embedded Postgres and broker,
ports of its own so it never meets another platform on this machine), run ``modelbus
demo`` against it, and kill one service at each of the demo's steps (trainer while it
trains, registry and governance while v1 goes through, deployer and monitor under
traffic). For each kill it prints how long until the service's ``/readyz`` answered 200
again; then the demo's own verdict and ``modelbus audit verify``. Exits 1 if a service
took more than 10 s, the demo failed or the audit did not verify.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import psutil

from modelbus.embedded import pick_free_port
from modelbus.stack import local_secret
from shared.settings import DEFAULT_PORTS

READY_WITHIN_S = 10.0
# The demo line that starts a step, and the services killed once it is printed.
KILLS = [
    ("1. training", ["trainer"]),
    ("model.registered", ["registry"]),
    ("model.approved", ["governance"]),
    ("2. live traffic", ["deployer"]),
    ("3. covariate shift", ["monitor"]),
]


def ready(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1, trust_env=False).is_success
    except httpx.HTTPError:
        return False


def service_pid(up: subprocess.Popen[str], name: str) -> int:
    for child in psutil.Process(up.pid).children():
        if child.cmdline()[-2:] == ["service", name]:
            return child.pid
    raise RuntimeError(f"no {name} process under modelbus up")


def main() -> int:
    ports = {name: pick_free_port() for name in DEFAULT_PORTS}
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODELBUS_")}
    env.update({f"MODELBUS_{name.upper()}_PORT": str(port) for name, port in ports.items()})
    env.update(
        MODELBUS_HOME=tempfile.mkdtemp(prefix="modelbus-kill-demo-"),
        MODELBUS_POSTGRES_PORT=str(pick_free_port()),
        MODELBUS_KAFKA_PORT=str(pick_free_port()),
    )
    up = subprocess.Popen(
        [sys.executable, "-m", "modelbus", "up"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert up.stdout is not None
    up_lines: list[str] = []
    threading.Thread(target=lambda: up_lines.extend(up.stdout or []), daemon=True).start()
    failures: list[str] = []
    try:
        deadline = time.monotonic() + 240
        while not all(ready(p) for p in ports.values()):
            if up.poll() is not None or time.monotonic() > deadline:
                print("".join(up_lines))
                return 1
            time.sleep(0.5)
        print("platform up; starting the demo against it", flush=True)
        demo = subprocess.Popen(
            [sys.executable, "-m", "modelbus", "demo"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        assert demo.stdout is not None
        pending = list(KILLS)
        for line in demo.stdout:
            print(f"  demo| {line}", end="", flush=True)
            if pending and re.search(re.escape(pending[0][0]), line):
                _, names = pending.pop(0)
                for name in names:
                    os.kill(service_pid(up, name), signal.SIGKILL)
                    killed = time.monotonic()
                    time.sleep(0.5)  # let the supervisor see the exit before probing
                    while not ready(ports[name]):
                        if time.monotonic() - killed > 60:
                            break
                        time.sleep(0.1)
                    took = time.monotonic() - killed
                    print(f"KILLED {name}: ready again after {took:.1f}s", flush=True)
                    if took > READY_WITHIN_S:
                        failures.append(f"{name} took {took:.1f}s")
        demo.wait()
        if demo.returncode != 0:
            failures.append(f"the demo exited with {demo.returncode}")
        if pending:
            failures.append(f"steps never seen: {[p for p, _ in pending]}")
        verify = subprocess.run(
            [sys.executable, "-m", "modelbus", "audit", "verify"],
            env={
                **env,
                "MODELBUS_DATABASE_URL": _database_url(env),
                "MODELBUS_GOVERNANCE_AUDIT_KEY": local_secret(
                    Path(env["MODELBUS_HOME"]), "MODELBUS_GOVERNANCE_AUDIT_KEY"
                ),
            },
            capture_output=True,
            text=True,
            check=False,
        )
        print(f"modelbus audit verify (exit {verify.returncode}): {verify.stdout.strip()}")
        if verify.returncode != 0:
            failures.append(f"audit verify: {verify.stdout}{verify.stderr}")
    finally:
        up.send_signal(signal.SIGINT)
        up.wait(120)
        print("".join(line for line in up_lines if "modelbus up:" in line or "restarts" in line))
    print("FAILED: " + "; ".join(failures) if failures else "every kill recovered; loop closed")
    return 1 if failures else 0


def _database_url(env: dict[str, str]) -> str:
    return f"postgresql://postgres@127.0.0.1:{env['MODELBUS_POSTGRES_PORT']}/modelbus"


if __name__ == "__main__":
    sys.exit(main())
