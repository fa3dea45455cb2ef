"""What an idle platform costs: CPU of the five services while nothing happens.

    ./run bench idle [--seconds S] [--settle S]

Starts ``modelbus up`` on the embedded defaults twice, in one run: first as a baseline with
the outbox relay polling every 50 ms and not listening (``MODELBUS_RELAY_LISTEN=false``,
``MODELBUS_RELAY_FALLBACK_POLL_S=0.05``: how every relay worked before LISTEN/NOTIFY), then
with the defaults (woken by NOTIFY, polling only as a slow fallback). Each time it waits
until every service is ready, lets start-up work settle, then reads the CPU times of the
service processes from /proc (via psutil) over the window and prints them as % of one
core, per service and in total, and the ratio of the two totals. Postgres and the broker
are measured and printed apart: they are not the services' own cost.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import psutil

from modelbus.embedded import pick_free_port
from shared.settings import DEFAULT_PORTS

BASELINE = {"MODELBUS_RELAY_LISTEN": "false", "MODELBUS_RELAY_FALLBACK_POLL_S": "0.05"}


def _ready(port: int) -> bool:
    try:
        response = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2, trust_env=False)
    except httpx.HTTPError:
        return False
    return response.status_code == 200


@contextmanager
def platform(extra_env: dict[str, str]) -> Iterator[tuple[psutil.Process, dict[str, int]]]:
    ports = {name: pick_free_port() for name in DEFAULT_PORTS}
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODELBUS_")}
    env.update({f"MODELBUS_{name.upper()}_PORT": str(port) for name, port in ports.items()})
    env.update(
        MODELBUS_HOME=tempfile.mkdtemp(prefix="modelbus-bench-idle-"),
        MODELBUS_POSTGRES_PORT=str(pick_free_port()),
        MODELBUS_KAFKA_PORT=str(pick_free_port()),
        MODELBUS_GOVERNANCE_AUDIT_KEY="bench-" + os.urandom(16).hex(),
        **extra_env,
    )
    up = subprocess.Popen(
        [sys.executable, "-m", "modelbus", "up"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 180
        while not all(_ready(p) for p in ports.values()):
            if up.poll() is not None:
                raise SystemExit(
                    f"modelbus up exited with {up.returncode}; see {env['MODELBUS_HOME']}"
                )
            if time.monotonic() > deadline:
                raise SystemExit("the platform was not ready within 180 s")
            time.sleep(0.5)
        yield psutil.Process(up.pid), ports
    finally:
        up.send_signal(signal.SIGINT)
        up.wait(90)


def _role(proc: psutil.Process) -> str:
    try:
        cmd = proc.cmdline()
    except psutil.Error:
        return "?"
    if "service" in cmd and cmd.index("service") + 1 < len(cmd):
        return cmd[cmd.index("service") + 1]
    name = os.path.basename(cmd[0]) if cmd else "?"
    return "postgres" if name == "postgres" else "broker" if "tansu" in " ".join(cmd) else name


def _cpu(procs: list[psutil.Process]) -> dict[int, float]:
    seconds: dict[int, float] = {}
    for proc in procs:
        try:
            t = proc.cpu_times()
        except psutil.Error:
            continue
        seconds[proc.pid] = t.user + t.system
    return seconds


def measure(extra_env: dict[str, str], settle_s: float, window_s: float) -> dict[str, float]:
    """% of one core per role over the window, after the platform is ready and settled."""
    with platform(extra_env) as (up, _ports):
        time.sleep(settle_s)
        # A service's own children (the trainer's warm worker) are counted as the service.
        roles: dict[int, str] = {}
        procs: list[psutil.Process] = []
        for child in up.children():
            family = [child, *child.children(recursive=True)]
            roles.update({p.pid: _role(child) for p in family})
            procs.extend(family)
        before, t0 = _cpu(procs), time.monotonic()
        time.sleep(window_s)
        after, elapsed = _cpu(procs), time.monotonic() - t0
    usage: dict[str, float] = {}
    for proc in procs:
        if proc.pid in before and proc.pid in after:
            role = roles[proc.pid]
            share = 100 * (after[proc.pid] - before[proc.pid]) / elapsed
            usage[role] = usage.get(role, 0.0) + share
    return usage


def _report(label: str, usage: dict[str, float]) -> float:
    services = {k: v for k, v in usage.items() if k in DEFAULT_PORTS}
    total = sum(services.values())
    parts = "  ".join(f"{k} {v:.2f}%" for k, v in sorted(services.items()))
    infra = "  ".join(f"{k} {v:.2f}%" for k, v in sorted(usage.items()) if k not in services)
    print(f"{label:<9} services {total:6.2f}% of one core  ({parts})", flush=True)
    print(f"{'':<9} infrastructure: {infra}", flush=True)
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=45.0, help="measured window")
    parser.add_argument("--settle", type=float, default=15.0, help="wait after ready")
    args = parser.parse_args()
    # Stopped with SIGTERM, still stop the platform it started (the finally above).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    print(f"idle CPU over {args.seconds:.0f} s, after {args.settle:.0f} s of settling", flush=True)
    baseline = _report("polling", measure(BASELINE, args.settle, args.seconds))
    listening = _report("notify", measure({}, args.settle, args.seconds))
    print(f"ratio polling/notify: {baseline / max(listening, 1e-6):.1f}x", flush=True)


if __name__ == "__main__":
    main()
