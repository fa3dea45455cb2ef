"""Settings of the governance service (``MODELBUS_GOVERNANCE_*``), next to the shared ones."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.errors import describe_validation
from shared.events.signing import DecisionSigner
from shared.secrets import StrongSecret

SHIPPED_POLICIES = Path(__file__).resolve().parent / "policies"


class GovernanceSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MODELBUS_GOVERNANCE_", extra="ignore")

    # Policies in this directory replace shipped ones of the same name and add new ones.
    policy_dir: Path | None = None
    # Signs audit checkpoints. Kept outside Postgres on purpose: whoever can rewrite the
    # audit tables must not also be able to forge the checkpoints that expose the rewrite.
    audit_key: StrongSecret
    # The Ed25519 private key (PKCS#8 PEM, readable by governance alone) that signs every
    # decision; consumers trust its public key through MODELBUS_DECISION_KEYS. The service
    # refuses to start without it; the audit tools (which sign nothing) do not need it.
    signing_key_file: Path | None = None
    # A signed checkpoint is written after every this many audit records.
    checkpoint_every: int = Field(default=100, ge=1)

    @property
    def checkpoint_key(self) -> bytes:
        """``audit_key`` as the bytes that sign (and verify) checkpoints."""
        return self.audit_key.get_secret_value().encode()

    def signer(self) -> DecisionSigner:
        """The decision signer; :class:`ConfigurationError` if the key file is unusable."""
        if self.signing_key_file is None:
            raise ConfigurationError(
                "governance cannot start: MODELBUS_GOVERNANCE_SIGNING_KEY_FILE is not set "
                "(the Ed25519 key that signs decisions; modelbus up generates one)"
            )
        try:
            return DecisionSigner.from_file(self.signing_key_file)
        except (OSError, ValueError, TypeError) as exc:
            raise ConfigurationError(
                f"governance cannot start: MODELBUS_GOVERNANCE_SIGNING_KEY_FILE "
                f"{self.signing_key_file}: {exc}"
            ) from exc


class ConfigurationError(RuntimeError):
    """Governance refuses to start: a setting is missing, empty, or a known default."""


def load_settings() -> GovernanceSettings:
    """The settings from the environment, or one error naming every bad variable."""
    try:
        return GovernanceSettings()
    except ValidationError as exc:
        problems = describe_validation(
            exc,
            limit=20,
            where=lambda loc: "MODELBUS_GOVERNANCE_" + "_".join(map(str, loc)).upper(),
        )
        raise ConfigurationError(f"governance cannot start: {problems}") from exc
