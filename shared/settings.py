"""Settings for every modelbus process, read from ``MODELBUS_*`` environment variables."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEFAULT_PORTS = {
    "deployer": 8080,
    "registry": 8081,
    "governance": 8082,
    "monitor": 8083,
    "trainer": 8084,
}
# The deployer's Open Inference Protocol over gRPC (KServe's usual 8081 is the registry's).
DEPLOYER_GRPC_PORT = 8090


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MODELBUS_", extra="ignore")

    database_url: str = "postgresql://postgres@127.0.0.1:5432/modelbus"
    database_pool_min: int = 1
    database_pool_max: int = 10

    kafka_bootstrap: str = "127.0.0.1:9092"
    # None means: ask the broker whether it supports idempotent producers.
    kafka_idempotence: bool | None = None
    kafka_default_partitions: int = 3
    kafka_max_message_bytes: int = 1_048_576
    # How every Kafka client of this process authenticates (shared/bus/kafka.py). A broker
    # with ACLs (deploy/kafka, docker-compose.yml) gives each service its own SCRAM user.
    kafka_security_protocol: Literal["PLAINTEXT", "SASL_PLAINTEXT", "SASL_SSL", "SSL"] = "PLAINTEXT"
    kafka_sasl_mechanism: Literal["SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN"] = "SCRAM-SHA-512"
    kafka_sasl_username: str = ""
    kafka_sasl_password: SecretStr = SecretStr("")
    # A CA bundle to verify the broker's certificate with (SSL, SASL_SSL); unset: system CAs.
    kafka_ssl_cafile: Path | None = None
    # How long a consumer that died silently keeps its partitions (see shared/bus/subscriber.py).
    kafka_session_timeout_ms: int = Field(default=6000, ge=1000)

    http_host: str = "127.0.0.1"
    http_port: int | None = None
    # The body limit of a route that declares none (shared/http/guard.py).
    http_max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    # Token checks are cached this long: a revocation reaches every other service within it.
    auth_cache_s: float = Field(default=10.0, ge=0.0)
    # Failed token checks a client address may make per window before it is answered 429.
    auth_max_failures: int = Field(default=20, ge=1)
    auth_failure_window_s: float = Field(default=60.0, gt=0.0)

    home: Path = Field(default_factory=lambda: Path.home() / ".modelbus")
    artifact_store: str = ""  # "file:///path" or "postgres"; empty: file store under home
    # Where claim checks from outside may point besides the artifact store
    # (shared/store/sources.py): folders for file:// URIs, hosts (name, name:port or
    # *.domain) for http(s):// URIs; comma-separated. Empty: the store only.
    artifact_source_dirs: Annotated[list[Path], NoDecode] = Field(default_factory=list)
    artifact_source_hosts: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # One deadline for a whole http(s) fetch of an artifact, connect to last byte.
    artifact_fetch_timeout_s: float = Field(default=60.0, gt=0)

    # Governance's public keys (base64 Ed25519, comma-separated; more than one while a key
    # is rotated): a decision is acted on only if one of them signed it.
    decision_keys: Annotated[list[str], NoDecode] = Field(default_factory=list)

    log_level: str = "INFO"
    relay_batch_size: int = 500
    consumer_batch_size: int = 500
    # Records one fetch of a stream consumer (shared/bus/stream.py) may bring, all partitions.
    stream_batch_size: int = Field(default=5000, ge=1)
    # A batch failing transiently for this long is applied event by event, and the events
    # still failing are dead-lettered (the database itself being down keeps it waiting).
    consumer_retry_deadline_s: float = Field(default=300.0, gt=0)
    # Sends of one outbox row the broker may refuse before it is quarantined.
    relay_max_refusals: int = Field(default=5, ge=1)
    # The relay wakes on LISTEN/NOTIFY at commit; it also polls this often, only as a
    # safety net for a notification missed while its connection was replaced.
    relay_fallback_poll_s: float = Field(default=5.0, gt=0)
    relay_listen: bool = True
    # Set by ``modelbus up`` when it restarts this process; exposed as a gauge.
    supervisor_restarts: int = Field(default=0, ge=0)

    @field_validator(
        "artifact_source_dirs", "artifact_source_hosts", "decision_keys", mode="before"
    )
    @classmethod
    def _comma_separated(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("artifact_source_dirs")
    @classmethod
    def _absolute(cls, dirs: list[Path]) -> list[Path]:
        relative = [str(d) for d in dirs if not d.is_absolute()]
        if relative:
            raise ValueError(f"folders must be absolute paths: {', '.join(relative)}")
        return dirs

    @model_validator(mode="after")
    def _sasl_needs_credentials(self) -> Settings:
        if self.kafka_security_protocol.startswith("SASL_") and not (
            self.kafka_sasl_username and self.kafka_sasl_password.get_secret_value()
        ):
            raise ValueError(
                f"MODELBUS_KAFKA_SECURITY_PROTOCOL={self.kafka_security_protocol} needs "
                "MODELBUS_KAFKA_SASL_USERNAME and MODELBUS_KAFKA_SASL_PASSWORD"
            )
        return self

    def port_for(self, service: str) -> int:
        return self.http_port if self.http_port is not None else DEFAULT_PORTS[service]

    def artifact_store_url(self) -> str:
        return self.artifact_store or (self.home / "artifacts").as_uri()


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
