"""The console's ``MODELBUS_CONSOLE_*`` settings: its port and where each service answers."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.settings import DEFAULT_PORTS

CONSOLE_PORT = 8085


def _local(service: str) -> str:
    return f"http://127.0.0.1:{DEFAULT_PORTS[service]}"


class ConsoleSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MODELBUS_CONSOLE_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = CONSOLE_PORT
    registry_url: str = Field(default_factory=lambda: _local("registry"))
    trainer_url: str = Field(default_factory=lambda: _local("trainer"))
    governance_url: str = Field(default_factory=lambda: _local("governance"))
    deployer_url: str = Field(default_factory=lambda: _local("deployer"))
    monitor_url: str = Field(default_factory=lambda: _local("monitor"))
    # A session ends this long after sign-in, whatever happens meanwhile.
    session_ttl_s: float = Field(default=8 * 3600, gt=0)
    max_sessions: int = Field(default=10_000, ge=1)
    # Set behind TLS so the browser sends the session cookie over HTTPS only.
    secure_cookies: bool = False
    # Each call to a service; a page waits for its slowest call.
    service_timeout_s: float = Field(default=10.0, gt=0)
    # How often an open page refreshes itself (0: never).
    refresh_s: float = Field(default=5.0, ge=0)

    def service_urls(self) -> dict[str, str]:
        return {name: getattr(self, f"{name}_url").rstrip("/") for name in DEFAULT_PORTS}


def console_environment(port: int, service_ports: dict[str, int]) -> dict[str, str]:
    """The settings of a console next to services on local ``service_ports``."""
    env = {"MODELBUS_CONSOLE_PORT": str(port)}
    for name, service_port in service_ports.items():
        env[f"MODELBUS_CONSOLE_{name.upper()}_URL"] = f"http://127.0.0.1:{service_port}"
    return env
