"""One Postgres and one Kafka broker for the whole test session.

Apache Kafka (from Maven Central, ``deploy/kafka``) runs whenever Java and Maven are
present; otherwise the embedded Tansu broker. ``MODELBUS_REQUIRE_APACHE_KAFKA=1`` (set by
CI) turns the fallback into a failure. ``MODELBUS_TEST_DATABASE_URL`` and
``MODELBUS_TEST_KAFKA_BOOTSTRAP`` use servers that are already running instead.

Apache Kafka runs as in production: SASL/SCRAM-SHA-512, the StandardAuthorizer, one SCRAM
user per service plus ``external`` and the super user ``admin``, every topic and the ACLs
of :mod:`shared.bus.acls` provisioned before any test. Tests that are not about ACLs
connect as ``admin``, the documented test super user (:func:`Broker.superuser_env`, set
for the whole session); tests about ACLs take a service's own credentials
(:meth:`Broker.settings_for`).
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from modelbus.embedded import EmbeddedPostgres, TansuBroker, pick_free_port
from shared.bus.acls import ADMIN_PRINCIPAL, KAFKA_USERS
from shared.bus.kafka import ensure_topics
from shared.bus.provision import provision
from shared.settings import Settings

REPO = Path(__file__).resolve().parents[2]
APACHE = "apache-kafka"
TANSU = "tansu"


@dataclass
class Broker:
    bootstrap: str
    kind: str
    data_dir: Path | None = None
    tansu: TansuBroker | None = None
    # SCRAM user -> password; empty for an open broker (Tansu, or one given from outside).
    passwords: dict[str, str] = field(default_factory=dict, repr=False)

    @property
    def is_apache(self) -> bool:
        return self.kind == APACHE

    @property
    def has_acls(self) -> bool:
        return bool(self.passwords)

    def credentials_env(self, user: str) -> dict[str, str]:
        """``MODELBUS_KAFKA_*`` settings that connect as ``user`` (none for an open broker)."""
        if not self.passwords:
            return {}
        return {
            "MODELBUS_KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
            "MODELBUS_KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
            "MODELBUS_KAFKA_SASL_USERNAME": user,
            "MODELBUS_KAFKA_SASL_PASSWORD": self.passwords[user],
        }

    def superuser_env(self) -> dict[str, str]:
        return self.credentials_env(ADMIN_PRINCIPAL)

    def settings_for(self, user: str, **fields: object) -> Settings:
        """Settings whose Kafka clients authenticate as ``user``."""
        env = self.credentials_env(user)
        auth = {k.removeprefix("MODELBUS_").lower(): v for k, v in env.items()}
        return Settings(kafka_bootstrap=self.bootstrap, **{**auth, **fields})  # type: ignore[arg-type]

    @property
    def scram_file(self) -> Path | None:
        return self.data_dir.parent / "kafka-scram" if self.data_dir and self.passwords else None

    def stop(self) -> None:
        if self.tansu is not None:
            self.tansu.stop()
        elif self.data_dir is not None:
            subprocess.run(
                [str(REPO / "deploy/kafka/stop.sh"), "--data-dir", str(self.data_dir)], check=False
            )

    def start_again(self) -> None:
        """Restart an Apache Kafka broker on its durable logs (for restart tests)."""
        assert self.data_dir is not None, "only the Apache Kafka broker can restart"
        port = int(self.bootstrap.rsplit(":", 1)[1])
        # Clients know only the broker's port; the controller's may be taken by anything
        # on a busy machine while the broker was down, and the quorum moves with it.
        _start_apache(port, self.data_dir, self.scram_file, controller_port=pick_free_port())


def apache_kafka_possible() -> bool:
    return shutil.which("java") is not None and shutil.which("mvn") is not None


def start_broker(workdir: Path) -> Broker:
    external = os.environ.get("MODELBUS_TEST_KAFKA_BOOTSTRAP")
    if external:
        kind = os.environ.get("MODELBUS_TEST_KAFKA_KIND", APACHE)
        return Broker(external, kind)
    if apache_kafka_possible():
        port = pick_free_port()
        broker = Broker(
            f"127.0.0.1:{port}",
            APACHE,
            data_dir=workdir / "kafka",
            passwords={user: secrets.token_urlsafe(24) for user in KAFKA_USERS},
        )
        scram = broker.scram_file
        assert scram is not None
        fd = os.open(scram, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.writelines(f"{user}={password}\n" for user, password in broker.passwords.items())
        _start_apache(port, broker.data_dir, scram)  # type: ignore[arg-type]
        # What an operator does once per cluster: topics and ACLs, as the super user.
        asyncio.run(provision(broker.settings_for(ADMIN_PRINCIPAL)))
        return broker
    if os.environ.get("MODELBUS_REQUIRE_APACHE_KAFKA") == "1":
        raise RuntimeError(
            "MODELBUS_REQUIRE_APACHE_KAFKA=1 but Java and Maven are not both on PATH"
        )
    tansu = TansuBroker(pick_free_port(), log_dir=workdir)
    tansu.start()
    asyncio.run(ensure_topics(Settings(kafka_bootstrap=tansu.bootstrap)))
    return Broker(tansu.bootstrap, TANSU, tansu=tansu)


def _start_apache(
    port: int, data_dir: Path, scram_file: Path | None, *, controller_port: int | None = None
) -> None:
    argv = [str(REPO / "deploy/kafka/start.sh"), "--port", str(port), "--data-dir", str(data_dir)]
    if controller_port is not None:
        argv += ["--controller-port", str(controller_port)]
    if scram_file is not None:
        argv += ["--scram-file", str(scram_file)]
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)


def start_postgres(workdir: Path) -> tuple[str, EmbeddedPostgres | None]:
    external = os.environ.get("MODELBUS_TEST_DATABASE_URL")
    if external:
        return external, None
    # Not under pytest's tmp_path: pytest makes that 0700 for root, and Postgres runs as an
    # unprivileged user that must reach its data directory.
    data_dir = Path(tempfile.mkdtemp(prefix="modelbus-test-pg-")) / "postgres"
    server = EmbeddedPostgres(data_dir, port=pick_free_port())
    server.start()
    return server.url, server
