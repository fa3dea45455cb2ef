"""One Postgres and one Kafka broker for the whole test session.

Apache Kafka (from Maven Central, ``deploy/kafka``) runs whenever Java and Maven are
present; otherwise the embedded Tansu broker. ``MODELBUS_REQUIRE_APACHE_KAFKA=1`` (set by
CI) turns the fallback into a failure. ``MODELBUS_TEST_DATABASE_URL`` and
``MODELBUS_TEST_KAFKA_BOOTSTRAP`` use servers that are already running instead.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from modelbus.embedded import EmbeddedPostgres, TansuBroker, pick_free_port

REPO = Path(__file__).resolve().parents[2]
APACHE = "apache-kafka"
TANSU = "tansu"


@dataclass
class Broker:
    bootstrap: str
    kind: str
    data_dir: Path | None = None
    tansu: TansuBroker | None = None

    @property
    def is_apache(self) -> bool:
        return self.kind == APACHE

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
        port = self.bootstrap.rsplit(":", 1)[1]
        # Clients know only the broker's port; the controller's may be taken by anything
        # on a busy machine while the broker was down, and the quorum moves with it.
        controller = str(pick_free_port())
        subprocess.run(
            [
                str(REPO / "deploy/kafka/start.sh"),
                *("--port", port, "--controller-port", controller),
                *("--data-dir", str(self.data_dir)),
            ],
            check=True,
            stdout=subprocess.DEVNULL,
        )


def apache_kafka_possible() -> bool:
    return shutil.which("java") is not None and shutil.which("mvn") is not None


def start_broker(workdir: Path) -> Broker:
    external = os.environ.get("MODELBUS_TEST_KAFKA_BOOTSTRAP")
    if external:
        kind = os.environ.get("MODELBUS_TEST_KAFKA_KIND", APACHE)
        return Broker(external, kind)
    if apache_kafka_possible():
        port = pick_free_port()
        data_dir = workdir / "kafka"
        subprocess.run(
            [str(REPO / "deploy/kafka/start.sh"), "--port", str(port), "--data-dir", str(data_dir)],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        return Broker(f"127.0.0.1:{port}", APACHE, data_dir=data_dir)
    if os.environ.get("MODELBUS_REQUIRE_APACHE_KAFKA") == "1":
        raise RuntimeError(
            "MODELBUS_REQUIRE_APACHE_KAFKA=1 but Java and Maven are not both on PATH"
        )
    tansu = TansuBroker(pick_free_port(), log_dir=workdir)
    tansu.start()
    return Broker(tansu.bootstrap, TANSU, tansu=tansu)


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
