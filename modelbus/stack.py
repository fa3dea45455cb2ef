"""``modelbus up``: infrastructure (embedded or given) plus the five services, as processes.

Order is kept in both directions: Postgres, then the broker, then the services on the way
up; the services, then the broker, then Postgres on the way down, so no service sees its
database or broker vanish while it is still draining.

Embedded infrastructure is started with blocking calls on purpose: a signal that arrives
meanwhile is handled once the call returns, so nothing can be spawned after the shutdown
that should have stopped it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import signal
import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import httpx
from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from console.settings import CONSOLE_PORT, console_environment
from modelbus.embedded import (
    STOP_TIMEOUT_S,
    EmbeddedPostgres,
    EmbeddedStartError,
    PortInUse,
    TansuBroker,
    _run_coroutine,
    log_tail,
    open_log,
    port_is_free,
    spawn_in_own_session,
    stop_processes,
)
from modelbus.provisioning import local_passwords, provision_database
from modelbus.supervisor import RestartPolicy, Supervisor
from shared.events.signing import DecisionSigner, generate_private_key_pem
from shared.settings import DEFAULT_PORTS, DEPLOYER_GRPC_PORT
from shared.store.roles import service_role

HOST = "127.0.0.1"
SERVICES: tuple[str, ...] = tuple(DEFAULT_PORTS)  # deployer, registry, governance, monitor, trainer
# What `modelbus up` runs besides: the console, which reads the services' HTTP APIs.
CONSOLE = "console"
PROCESSES: tuple[str, ...] = (*SERVICES, CONSOLE)
# Secrets a service refuses to start without; a laptop stack generates its own (see below).
LOCAL_SECRETS = ("MODELBUS_GOVERNANCE_AUDIT_KEY",)
SIGNING_KEY_FILE = "MODELBUS_GOVERNANCE_SIGNING_KEY_FILE"
# Governance's settings, its secrets among them, reach governance alone: no other service
# needs the checkpoint key or the decision signing key, so none is given them.
GOVERNANCE_ONLY_PREFIX = "MODELBUS_GOVERNANCE_"


class StackSettings(BaseSettings):
    """What ``modelbus up`` needs, read from ``MODELBUS_*`` environment variables."""

    model_config = SettingsConfigDict(env_prefix="MODELBUS_", extra="ignore")

    home: Path = Field(default_factory=lambda: Path.home() / ".modelbus")
    database_url: str | None = None  # unset: embedded Postgres under home/postgres
    kafka_bootstrap: str | None = None  # unset: embedded Tansu broker
    postgres_port: int = 5432
    kafka_port: int = 9092
    deployer_port: int = DEFAULT_PORTS["deployer"]
    registry_port: int = DEFAULT_PORTS["registry"]
    governance_port: int = DEFAULT_PORTS["governance"]
    monitor_port: int = DEFAULT_PORTS["monitor"]
    trainer_port: int = DEFAULT_PORTS["trainer"]
    console_port: int = CONSOLE_PORT
    # The deployer's Open Inference Protocol over gRPC, beside its REST port (0: any free
    # port for every replica, as the tests run it).
    deployer_grpc_port: int = Field(default=DEPLOYER_GRPC_PORT, ge=0, le=65535)
    ready_timeout_s: float = 90.0
    stop_timeout_s: float = STOP_TIMEOUT_S
    # Replica r (from 1) of a service listens on its port + (r - 1) * replica_port_step.
    replicas: int = Field(default=1, ge=1, le=9)
    replica_port_step: int = Field(default=100, ge=1)
    # Supervision (modelbus/supervisor.py): give up on a service after this many exits
    # within the window; restarts back off from at once up to the cap.
    restart_max_crashes: int = Field(default=5, ge=1)
    restart_window_s: float = Field(default=120.0, gt=0)
    restart_backoff_cap_s: float = Field(default=8.0, gt=0)
    # The service name is appended; tests point this at a stand-in process.
    service_command: list[str] = Field(
        default_factory=lambda: [sys.executable, "-m", "modelbus", "service"]
    )

    @field_validator("database_url", "kafka_bootstrap")
    @classmethod
    def _empty_means_unset(cls, value: str | None) -> str | None:
        return value or None

    def service_port(self, name: str, replica: int = 1) -> int:
        port: int = getattr(self, f"{name}_port")
        return port + (replica - 1) * self.replica_port_step

    def grpc_port(self, replica: int = 1) -> int:
        """Replica ``replica`` of the deployer's gRPC port, stepped like its HTTP port."""
        if self.deployer_grpc_port == 0:
            return 0
        return self.deployer_grpc_port + (replica - 1) * self.replica_port_step

    def instances(self) -> list[Instance]:
        """Every process to run: each service once per replica, then one console."""
        return [
            *(
                Instance(
                    name if r == 1 else f"{name}-{r}",
                    name,
                    self.service_port(name, r),
                    self.grpc_port(r) if name == "deployer" else None,
                )
                for r in range(1, self.replicas + 1)
                for name in SERVICES
            ),
            Instance(CONSOLE, CONSOLE, self.console_port),
        ]


@dataclass(frozen=True)
class Instance:
    """One process of a service: ``deployer`` for the first replica, ``deployer-2``, ..."""

    name: str
    service: str
    port: int
    grpc_port: int | None = None  # the deployer's Open Inference Protocol over gRPC


class StackError(Exception):
    """A failure of ``modelbus up`` that is reported as a message, not a traceback."""

    exit_code = 1


class PortConflict(StackError):
    """Needed ports are taken or assigned twice; nothing was started."""

    exit_code = 2


class StackStartError(StackError):
    """Something did not become ready; everything that was started has been stopped."""


@dataclass
class ChildProcess:
    """One service started by `modelbus up` as a child process, and where its log goes."""

    name: str
    service: str
    port: int
    popen: subprocess.Popen[bytes]
    log_path: Path
    log_file: IO[bytes]
    grpc_port: int | None = None

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"


@dataclass
class RunningStack:
    """The URLs of a running stack, and the processes to stop."""

    home: Path
    database_url: str = ""  # the admin's, for the operator's own tools (demo, audit)
    # Each service's own URL (embedded Postgres, provisioned with a role per service);
    # empty: every service uses database_url.
    service_database_urls: dict[str, str] = field(default_factory=dict)
    kafka_bootstrap: str = ""
    postgres: EmbeddedPostgres | None = None
    broker: TansuBroker | None = None
    services: dict[str, ChildProcess] = field(default_factory=dict)
    # While the stack runs: restarts exited services (see supervise); its result is the
    # exit code once the stack can no longer run.
    supervisor: Supervisor | None = None
    supervision: asyncio.Task[int] | None = None

    @property
    def endpoints(self) -> dict[str, str]:
        return {name: svc.url for name, svc in self.services.items()}

    @property
    def log_dir(self) -> Path:
        return self.home / "logs"


# --------------------------------------------------------------------------- ports


def port_conflicts(settings: StackSettings) -> list[str]:
    """Why the needed ports cannot be used (empty when all are free and distinct)."""
    needs: list[tuple[int, str, str]] = []
    if settings.database_url is None:
        hint = "set MODELBUS_POSTGRES_PORT, or MODELBUS_DATABASE_URL to use a running database"
        needs.append((settings.postgres_port, "embedded Postgres", hint))
    if settings.kafka_bootstrap is None:
        hint = "set MODELBUS_KAFKA_PORT, or MODELBUS_KAFKA_BOOTSTRAP to use a running broker"
        needs.append((settings.kafka_port, "the embedded Kafka broker (Tansu)", hint))
    for instance in settings.instances():
        hint = f"set MODELBUS_{instance.service.upper()}_PORT to use another port"
        needs.append((instance.port, f"the {instance.name} service", hint))
        if instance.grpc_port:
            hint = "set MODELBUS_DEPLOYER_GRPC_PORT to use another port"
            needs.append((instance.grpc_port, f"the {instance.name} service's gRPC", hint))

    problems: list[str] = []
    claimed: dict[int, str] = {}
    for port, wanted_by, hint in needs:
        if port in claimed:
            problems.append(f"port {port} is assigned to both {claimed[port]} and {wanted_by}")
        elif not port_is_free(HOST, port):
            problems.append(str(PortInUse(port, wanted_by, HOST, hint)))
        claimed.setdefault(port, wanted_by)
    return problems


def refuse_port_conflicts(settings: StackSettings) -> None:
    problems = port_conflicts(settings)
    if problems:
        raise PortConflict("refusing to start:\n  " + "\n  ".join(problems))


# --------------------------------------------------------------------------- start


def _start_infrastructure(stack: RunningStack, settings: StackSettings) -> None:
    if settings.database_url is not None:
        stack.database_url = settings.database_url
    else:
        stack.postgres = EmbeddedPostgres(settings.home / "postgres", port=settings.postgres_port)
        print(f"Postgres data directory: {stack.postgres.data_dir}", flush=True)
        stack.postgres.start()
        stack.database_url = stack.postgres.url
        # A role per service, passwords under home/secrets (shared/store/roles.py).
        role_urls = _run_coroutine(
            provision_database(stack.database_url, local_passwords(settings.home / "secrets"))
        )
        stack.service_database_urls = {name: role_urls[service_role(name)] for name in SERVICES}

    if settings.kafka_bootstrap is not None:
        stack.kafka_bootstrap = settings.kafka_bootstrap
    else:
        stack.broker = TansuBroker(port=settings.kafka_port, log_dir=stack.log_dir)
        stack.broker.start()
        stack.kafka_bootstrap = stack.broker.bootstrap


def local_secret(home: Path, env_name: str) -> str:
    """A secret for a laptop stack: from the environment, else generated once per home.

    Services refuse default secrets, so ``modelbus up`` makes a random one and keeps it in
    ``home/secrets`` (mode 0600): stable across restarts, known to nobody else.
    """
    if os.environ.get(env_name):
        return os.environ[env_name]
    path = home / "secrets" / env_name.lower()
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_urlsafe(32))
    return path.read_text().strip()


def decision_keys(home: Path) -> tuple[Path, str]:
    """Governance's decision signing key file and its public key for a laptop stack.

    ``MODELBUS_GOVERNANCE_SIGNING_KEY_FILE`` names an existing key; otherwise an Ed25519
    key is generated once into ``home/secrets`` (private key mode 0600, its public key
    beside it in ``.pub`` for services on other hosts).
    """
    given = os.environ.get(SIGNING_KEY_FILE)
    path = Path(given) if given else home / "secrets" / "decision-signing-key.pem"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(generate_private_key_pem())
    public = DecisionSigner.from_file(path).public_key_text
    path.with_suffix(".pub").write_text(public + "\n")
    return path, public


def _service_env(stack: RunningStack, port: int, restarts: int, service: str) -> dict[str, str]:
    key_file, public_key = decision_keys(stack.home)
    env = {
        k: v
        for k, v in os.environ.items()
        if service == "governance" or not k.startswith(GOVERNANCE_ONLY_PREFIX)
    }
    if service == "governance":
        env.update({secret: local_secret(stack.home, secret) for secret in LOCAL_SECRETS})
        env[SIGNING_KEY_FILE] = str(key_file)
    # Keys already trusted (a rotation in progress) stay trusted beside the current one.
    trusted = [k for k in os.environ.get("MODELBUS_DECISION_KEYS", "").split(",") if k.strip()]
    env["MODELBUS_DECISION_KEYS"] = ",".join(dict.fromkeys([*trusted, public_key]))
    env.update(
        MODELBUS_HOME=str(stack.home),
        MODELBUS_KAFKA_BOOTSTRAP=stack.kafka_bootstrap,
        MODELBUS_HTTP_PORT=str(port),
        MODELBUS_SUPERVISOR_RESTARTS=str(restarts),
        PYTHONUNBUFFERED="1",  # so a failing service's log tail is complete
    )
    # Each service its own role on a provisioned database; nothing for a process that has
    # no role (the console); the one URL given when the database is the operator's.
    url = stack.service_database_urls.get(service) if stack.service_database_urls else None
    if url or not stack.service_database_urls:
        env["MODELBUS_DATABASE_URL"] = url or stack.database_url
    else:
        env.pop("MODELBUS_DATABASE_URL", None)
    if stack.broker is not None:
        env["MODELBUS_KAFKA_IDEMPOTENCE"] = "false"  # Tansu has no idempotent producer
    return env


def spawn_service(
    stack: RunningStack, settings: StackSettings, instance: Instance, restarts: int = 0
) -> ChildProcess:
    """Start (or start again) one service process; its log is appended to."""
    previous = stack.services.get(instance.name)
    if previous is not None:
        previous.log_file.close()
    log_path = stack.log_dir / f"{instance.name}.log"
    what = f"the {instance.name} service" + (f" (restart {restarts})" if restarts else "")
    log_file = open_log(log_path, what)
    env = _service_env(stack, instance.port, restarts, instance.service)
    if instance.grpc_port is not None:
        env["MODELBUS_DEPLOYER_GRPC_PORT"] = str(instance.grpc_port)
    if instance.service == CONSOLE:
        env.update(
            console_environment(instance.port, {s: settings.service_port(s) for s in SERVICES})
        )
    popen = spawn_in_own_session([*settings.service_command, instance.service], log_file, env=env)
    child = ChildProcess(
        instance.name,
        instance.service,
        instance.port,
        popen,
        log_path,
        log_file,
        instance.grpc_port,
    )
    stack.services[instance.name] = child
    return child


def _start_services(stack: RunningStack, settings: StackSettings) -> None:
    for instance in settings.instances():
        spawn_service(stack, settings, instance)


def _failure_report(svc: ChildProcess, reason: str) -> str:
    tail = textwrap.indent(log_tail(svc.log_path) or "(empty)", "    ")
    return f"{svc.name} {reason}; last lines of {svc.log_path}:\n{tail}"


async def _is_ready(client: httpx.AsyncClient, svc: ChildProcess) -> bool:
    try:
        response = await client.get(f"{svc.url}/readyz")
    except httpx.HTTPError:
        return False
    return response.status_code == 200


async def _poll_until_ready(pending: dict[str, ChildProcess]) -> None:
    """Poll every /readyz until all answer 200, removing each from ``pending`` as it does."""
    # trust_env=False: an HTTP(S)_PROXY in the environment must not capture loopback calls.
    async with httpx.AsyncClient(timeout=2.0, trust_env=False) as client:
        while pending:
            for name, svc in list(pending.items()):
                code = svc.popen.poll()
                if code is not None:
                    raise StackStartError(_failure_report(svc, f"exited with code {code}"))
                if await _is_ready(client, svc):
                    print(f"  {name} ready at {svc.url}", flush=True)
                    del pending[name]
            if pending:
                await asyncio.sleep(0.25)


async def _wait_until_ready(stack: RunningStack, deadline_s: float) -> None:
    """Fail fast when a service exits; name every service still not ready at the deadline."""
    pending = dict(stack.services)
    try:
        async with asyncio.timeout(deadline_s):
            await _poll_until_ready(pending)
    except TimeoutError:
        reason = f"was not ready within {deadline_s:.0f}s"
        report = "\n".join(_failure_report(svc, reason) for svc in pending.values())
        raise StackStartError(report) from None


async def start_stack(settings: StackSettings) -> RunningStack:
    """Start infrastructure and services; return once every service's /readyz answers 200.

    Raises PortConflict before starting anything, StackStartError or EmbeddedStartError
    after stopping everything it had started.
    """
    refuse_port_conflicts(settings)
    stack = RunningStack(home=settings.home)
    try:
        _start_infrastructure(stack, settings)
        # Give the loop a moment to deliver a signal that arrived during the blocking
        # starts, so Ctrl-C there cancels us before any service is spawned.
        await asyncio.sleep(0.05)
        print("Starting services...", flush=True)
        _start_services(stack, settings)
        await _wait_until_ready(stack, settings.ready_timeout_s)
    except BaseException:  # including cancellation by a signal: never leave processes behind
        stop_stack(stack, settings.stop_timeout_s)
        raise
    return stack


def stop_stack(stack: RunningStack, timeout: float = STOP_TIMEOUT_S) -> None:
    """Stop services (SIGTERM, one shared deadline, then SIGKILL), the broker, then Postgres.

    Idempotent: stopping an already stopped stack does nothing.
    """
    stop_processes([svc.popen for svc in stack.services.values()], timeout=timeout)
    for svc in stack.services.values():
        svc.log_file.close()
    if stack.broker is not None:
        stack.broker.stop(timeout)
    if stack.postgres is not None:
        stack.postgres.stop(timeout)


@asynccontextmanager
async def running_stack(settings: StackSettings | None = None) -> AsyncIterator[RunningStack]:
    """``async with running_stack() as stack:`` a ready stack, supervised while the block
    runs (``stack.supervision`` ends if it cannot go on), stopped on exit."""
    settings = settings or StackSettings()
    stack = await start_stack(settings)
    stack.supervision = asyncio.create_task(supervise(stack, settings))
    try:
        yield stack
    finally:
        # Supervision ends first, so nothing is restarted while the stack is stopped.
        stack.supervision.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await stack.supervision
        stop_stack(stack, settings.stop_timeout_s)


# --------------------------------------------------------------------------- foreground


def format_endpoints(stack: RunningStack) -> str:
    rows = []
    for name, svc in stack.services.items():
        rows.append((name, svc.url))
        if svc.grpc_port:
            rows.append((f"{name} gRPC", f"{HOST}:{svc.grpc_port} (Open Inference Protocol)"))
    kafka_note = " (embedded Tansu, memory only)" if stack.broker else ""
    db_note = f" (embedded, data in {stack.postgres.data_dir})" if stack.postgres else ""
    rows += [
        ("kafka", stack.kafka_bootstrap + kafka_note),
        ("database", stack.database_url + db_note),
        ("logs", str(stack.log_dir)),
    ]
    width = max(len(name) for name, _ in rows)
    return "\n".join(f"  {name:<{width}}  {value}" for name, value in rows)


def _infrastructure_exited(stack: RunningStack) -> str | None:
    """Why the embedded Postgres or broker is gone, if it is: no service can run without."""
    for infra in (stack.postgres, stack.broker):
        if infra is not None and not infra.is_running():
            what = "embedded Postgres" if infra is stack.postgres else "the embedded Kafka broker"
            tail = textwrap.indent(log_tail(infra.log_path, 10) or "(empty)", "    ")
            return f"{what} exited; no service can run without it. See {infra.log_path}:\n{tail}"
    return None


def _report(line: str, loud: bool) -> None:
    print(f"modelbus up: {line}", file=sys.stderr if loud else sys.stdout, flush=True)


def supervisor_of(stack: RunningStack, settings: StackSettings) -> Supervisor:
    """The supervisor of a started stack's services, restarting them through ``spawn_service``."""
    instances = {i.name: i for i in settings.instances()}

    def respawn(name: str, restarts: int) -> subprocess.Popen[bytes]:
        return spawn_service(stack, settings, instances[name], restarts).popen

    def detail(name: str) -> str:
        svc = stack.services[name]
        return "; last lines of " + _failure_report(svc, "exited").split("; last lines of ", 1)[1]

    policy = RestartPolicy(
        cap_s=settings.restart_backoff_cap_s,
        max_crashes=settings.restart_max_crashes,
        window_s=settings.restart_window_s,
    )
    return Supervisor(
        {name: svc.popen for name, svc in stack.services.items()},
        stack.endpoints,
        respawn=respawn,
        report=_report,
        policy=policy,
        status_path=stack.home / "status.json",
        failure_detail=detail,
    )


async def supervise(stack: RunningStack, settings: StackSettings) -> int:
    """Keep the services running until cancelled; return 1 when that is no longer possible
    (the infrastructure died, or every service was given up)."""
    stack.supervisor = supervisor = supervisor_of(stack, settings)
    try:
        async with httpx.AsyncClient(timeout=2.0, trust_env=False) as client:
            while True:
                fatal = _infrastructure_exited(stack)
                if fatal is not None:
                    _report(f"FATAL: {fatal}\nStopping everything.", True)
                    return 1
                supervisor.check()
                if supervisor.all_given_up:
                    _report("every service was given up; stopping everything.", True)
                    return 1
                for name in supervisor.recovering():
                    if await _is_ready(client, stack.services[name]):
                        supervisor.ready_again(name)
                # Polling is the simple way to notice a child's exit among several processes.
                await asyncio.sleep(0.5)
    finally:
        if any(s.restarts or s.state != "running" for s in supervisor.states.values()):
            print(f"services:\n{supervisor.summary()}", flush=True)


def cancel_on_signals(task: asyncio.Task[Any]) -> list[str]:
    """Turn SIGINT/SIGTERM/SIGHUP into cancelling ``task``; returns the names received."""
    received: list[str] = []
    loop = asyncio.get_running_loop()

    def on_signal(sig: signal.Signals) -> None:
        if not received:
            print(f"\nReceived {sig.name}; stopping modelbus...", flush=True)
        received.append(sig.name)
        task.cancel()

    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        loop.add_signal_handler(sig, on_signal, sig)
    return received


async def up(settings: StackSettings) -> int:
    """Run the stack in the foreground until a signal or a crash; return the exit code."""
    task = asyncio.current_task()
    assert task is not None
    received = cancel_on_signals(task)
    try:
        async with running_stack(settings) as stack:
            print(f"modelbus is up:\n{format_endpoints(stack)}\nPress Ctrl-C to stop.", flush=True)
            assert stack.supervision is not None
            return await stack.supervision
    except asyncio.CancelledError:
        if not received:
            raise
        print("modelbus stopped.", flush=True)
        return 0


def run_up(settings: StackSettings | None = None, **overrides: Any) -> int:
    """Entry point of ``modelbus up``. Returns the exit code: 0 stopped by a signal,
    1 something failed to start or its infrastructure died, 2 refused (ports, settings).
    No tracebacks. ``overrides`` are settings given on the command line."""
    try:
        return asyncio.run(up(settings or StackSettings(**overrides)))
    except ValidationError as exc:
        print(f"modelbus up: invalid settings:\n{exc}", file=sys.stderr)
        return 2
    except PortInUse as exc:  # lost a race with another process after the check
        print(f"modelbus up: refusing to start: {exc}", file=sys.stderr)
        return 2
    except StackError as exc:
        print(f"modelbus up: {exc}", file=sys.stderr)
        return exc.exit_code
    except EmbeddedStartError as exc:
        print(f"modelbus up: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
