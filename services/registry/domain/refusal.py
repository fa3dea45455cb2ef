"""Why a candidate version can be refused: the acceptance checks, by name."""

from __future__ import annotations

from enum import StrEnum


class Check(StrEnum):
    """The acceptance checks, by the names ``model.registration_failed`` reports."""

    SOURCE = "source"
    SIZE = "size"
    FETCH = "fetch"
    DIGEST = "digest"
    PARSE = "onnx_parse"
    DOMAINS = "operator_domains"
    EXTERNAL_DATA = "external_data"
    CHECKER = "onnx_checker"
    SIGNATURE = "signature"
    SESSION = "onnxruntime_session"
    LINEAGE = "lineage"
    EVALUATION = "evaluation"  # the evaluation data cannot be used with this model
    LIMITS = "sandbox_limits"  # validating or measuring took more memory or time than allowed
    RISK_TIER = "risk_tier"  # a lower risk tier than the model's first version, not approved


class Refusal(Exception):
    """A candidate failed one or more checks; ``failures`` maps each check to its reason."""

    def __init__(self, failures: dict[Check, str]) -> None:
        self.failures = failures
        super().__init__(self.reason)

    @classmethod
    def of(cls, check: Check, reason: str) -> Refusal:
        return cls({check: reason})

    @property
    def reason(self) -> str:
        return "; ".join(f"{check.value}: {why}" for check, why in self.failures.items())

    @property
    def status_code(self) -> int:
        """413 when the only problem is size, else 422 (well-formed request, unacceptable model)."""
        return 413 if set(self.failures) == {Check.SIZE} else 422
