"""What this replica serves right now: loaded versions and, per model, how traffic is split.

A :class:`ServedModel` is immutable and replaced whole when its route changes, so a request
sees either the old route or the new one, never half of each (the swap is one dict
assignment on the event loop). A request keeps the :class:`ServedVersion` it started with:
a version being unloaded finishes the requests it already accepted.
"""

from __future__ import annotations

import random
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field

from services.deployer.metrics import ArmMetrics
from services.deployer.runtime.batcher import MicroBatcher
from services.deployer.runtime.onnx_model import OnnxModel
from services.deployer.serving.evidence import Evidence
from shared.errors import ModelbusError, NotFound

_HASH_SPACE = float(2**32)


class VersionStopped(ModelbusError):
    """The version was suspended (kill switch): it must not answer, for now."""

    status_code = 503
    code = "version_stopped"


class VersionRetired(ModelbusError):
    """The version was retired: it is gone for good, so the answer is a 404 that says so."""

    status_code = 404
    code = "version_retired"


@dataclass(eq=False)
class ServedVersion:
    model_name: str
    version: int
    model: OnnxModel
    batcher: MicroBatcher
    redact_fields: frozenset[str]
    _arms: dict[str, ArmMetrics] = field(default_factory=dict)

    def metrics(self, arm: str) -> ArmMetrics:
        found = self._arms.get(arm)
        if found is None:
            found = self._arms[arm] = ArmMetrics.of(self.model_name, self.version, arm)
        return found


@dataclass(frozen=True)
class Stopped:
    version: int
    status: str
    reason: str

    def error(self, model_name: str) -> ModelbusError:
        message = (
            f"version {self.version} of model {model_name!r} is "
            f"{self.status} and does not serve: {self.reason}"
        )
        if self.status == "retired":
            return VersionRetired(message)
        return VersionStopped(message)


@dataclass(frozen=True)
class ServedModel:
    name: str
    revision: int
    stable: ServedVersion | Stopped | None
    candidate: ServedVersion | None = None
    mode: str | None = None  # "canary" or "shadow" when there is a candidate
    weight: float = 0.0
    sticky_header: str | None = None
    evidence: Evidence | None = None
    # Versions of this model governance withdrew (suspended or retired), by number: a
    # request addressed to one is told why it does not serve, not merely that it does not.
    withdrawn: Mapping[int, Stopped] = field(default_factory=dict)

    def version(self, number: int) -> ServedVersion:
        """An explicitly addressed version: the stable one or the candidate."""
        for served in (self.stable, self.candidate):
            if isinstance(served, Stopped) and served.version == number:
                raise served.error(self.name)
            if isinstance(served, ServedVersion) and served.version == number:
                return served
        stopped = self.withdrawn.get(number)
        if stopped is not None:
            raise stopped.error(self.name)
        raise NotFound(f"model {self.name!r} has no version {number} serving")

    def route(self, header: str | None) -> tuple[ServedVersion, str]:
        """The version and arm that answer an unaddressed request.

        Canary: a share ``weight`` of requests goes to the candidate, by a stable hash of the
        sticky header's value when the caller sent one (the same caller stays on one arm,
        on every replica), else at random.
        """
        if self.mode == "canary" and self.candidate is not None:
            if header is not None:
                draw = zlib.crc32(header.encode()) / _HASH_SPACE
            else:
                draw = random.random()
            if draw < self.weight:
                return self.candidate, "canary"
        return self.default(), "stable"

    def default(self) -> ServedVersion:
        """The stable version: what answers a request that names no version."""
        if isinstance(self.stable, ServedVersion):
            return self.stable
        if isinstance(self.stable, Stopped):
            raise self.stable.error(self.name)
        raise NotFound(f"model {self.name!r} has no version serving")

    @property
    def shadow(self) -> ServedVersion | None:
        return self.candidate if self.mode == "shadow" else None

    @property
    def serving(self) -> list[ServedVersion]:
        return [v for v in (self.stable, self.candidate) if isinstance(v, ServedVersion)]


class ServingTable:
    """Models by name; written only by the reconciler, read by every request."""

    def __init__(self) -> None:
        self.models: dict[str, ServedModel] = {}
        self.ready = False

    def get(self, name: str) -> ServedModel:
        served = self.models.get(name)
        if served is None:
            raise NotFound(f"model {name!r} is not deployed here")
        return served

    def addressed(self, name: str, version: int | None) -> tuple[ServedModel, ServedVersion]:
        """The model and the version a metadata or readiness call names (``None``: the
        stable one); raises the same errors inference would."""
        model = self.get(name)
        return model, model.version(version) if version is not None else model.default()
