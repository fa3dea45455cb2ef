"""The reference profile the trainer writes (claim check ``ModelRegistered.reference_profile``).

The monitor reads this JSON document once, when a version is registered::

    {
      "format": "modelbus.reference-profile/1",         # optional
      "features": [                                      # input-tensor column order
        {"name": "age", "kind": "numeric", "count": 1000, "missing_rate": 0.0,
         "min": 18.0, "max": 90.0, "mean": 41.2, "std": 12.1,      # mean/std optional
         "bin_edges": [18.0, 25.0, ..., 90.0],          # K+1 quantile edges, ascending
         "bin_counts": [100, 98, ...]},                  # K counts, numpy.histogram semantics
        {"name": "colour", "kind": "categorical", "count": 1000, "missing_rate": 0.01,
         "categories": {"0": 400, "1": 350, "2": 240}}  # counts, or frequencies summing to 1
      ],
      "target": {"name": "churned"},                     # optional; the training target column
      "prediction": {... one feature entry, "name" optional ...},   # optional
      "reference_sample": {"uri": ..., "sha256": ..., "size": ...}  # optional claim check:
          # .npy float64 array (rows x features, NaN = missing) or CSV with a header of
          # feature names; a uniform sample of the training rows (a few thousand suffice)
    }

``features`` may also be an object ``{name: entry}`` in column order. Accepted aliases:
``type`` for ``kind``, ``quantile_edges``/``edges`` for ``bin_edges``, ``counts`` for
``bin_counts``, ``frequencies``/``category_counts`` for ``categories``,
``numerical``/``continuous`` for ``numeric``. Anything else is an :class:`InvalidInput`.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Any

import orjson
from pydantic import ValidationError

from shared.errors import InvalidInput, describe_validation
from shared.events.common import ArtifactRef


@dataclass(frozen=True)
class NumericProfile:
    name: str
    count: int
    missing_rate: float
    low: float
    high: float
    edges: list[float]
    bin_counts: list[float]
    std: float | None = None


@dataclass(frozen=True)
class CategoricalProfile:
    name: str
    count: int
    missing_rate: float
    categories: dict[str, float]  # category -> reference count


FeatureProfile = NumericProfile | CategoricalProfile


@dataclass(frozen=True)
class ReferenceProfile:
    features: list[FeatureProfile]
    prediction: FeatureProfile | None = None
    target_name: str | None = None
    sample: ArtifactRef | None = None

    @property
    def feature_names(self) -> list[str]:
        return [f.name for f in self.features]


_KINDS = {
    "numeric": "numeric",
    "numerical": "numeric",
    "continuous": "numeric",
    "categorical": "categorical",
    "category": "categorical",
}


def _first(entry: dict[str, Any], *keys: str) -> Any:
    for key in keys:
        if key in entry and entry[key] is not None:
            return entry[key]
    return None


def _number(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidInput(f"reference profile: {what} must be a finite number, got {value!r}")
    return float(value)


def parse_feature(entry: Any, name: str | None = None) -> FeatureProfile:
    if not isinstance(entry, dict):
        raise InvalidInput(f"reference profile: feature entry must be an object, got {entry!r}")
    name = str(entry.get("name") or name or "")
    if not name:
        raise InvalidInput("reference profile: a feature entry has no name")
    kind = _KINDS.get(str(_first(entry, "kind", "type")).lower())
    if kind is None:
        raise InvalidInput(f"reference profile: feature {name!r} has no known kind")
    missing = _number(entry.get("missing_rate", 0.0), f"{name}.missing_rate")
    if kind == "categorical":
        cats = _first(entry, "categories", "frequencies", "category_counts")
        if not isinstance(cats, dict) or not cats:
            raise InvalidInput(f"reference profile: categorical {name!r} needs categories")
        counts = {str(k): _number(v, f"{name}.categories[{k}]") for k, v in cats.items()}
        total = sum(counts.values())
        declared = entry.get("count")
        if total <= 1.0 + 1e-9 and declared:  # frequencies: turn them into counts
            counts = {k: v * float(declared) for k, v in counts.items()}
            total = float(declared)
        return CategoricalProfile(name, int(declared or round(total)), missing, counts)
    edges = [
        _number(e, f"{name}.bin_edges")
        for e in _first(entry, "bin_edges", "quantile_edges", "edges") or []
    ]
    counts_raw = _first(entry, "bin_counts", "counts") or []
    bins = [_number(c, f"{name}.bin_counts") for c in counts_raw]
    if not edges and not bins and not entry.get("count"):
        # Never present in the reference: only its missing rate can be watched.
        return NumericProfile(name, 0, missing, -math.inf, math.inf, [0.0, 0.0], [0.0])
    if len(edges) < 2 or len(bins) != len(edges) - 1:
        raise InvalidInput(
            f"reference profile: numeric {name!r} needs K+1 bin_edges and K "
            f"bin_counts, got {len(edges)} and {len(bins)}"
        )
    if any(b < a for a, b in itertools.pairwise(edges)):
        raise InvalidInput(f"reference profile: bin_edges of {name!r} are not ascending")
    std = entry.get("std")
    return NumericProfile(
        name=name,
        count=int(entry.get("count") or round(sum(bins))),
        missing_rate=missing,
        low=_number(entry.get("min", edges[0]), f"{name}.min"),
        high=_number(entry.get("max", edges[-1]), f"{name}.max"),
        edges=edges,
        bin_counts=bins,
        std=_number(std, f"{name}.std") if std is not None else None,
    )


def parse_profile(raw: bytes) -> ReferenceProfile:
    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidInput(f"reference profile is not JSON: {exc}") from exc
    if not isinstance(doc, dict):
        raise InvalidInput("reference profile must be a JSON object")
    entries = doc.get("features")
    if isinstance(entries, dict):
        features = [parse_feature(v, k) for k, v in entries.items()]
    elif isinstance(entries, list) and entries:
        features = [parse_feature(v) for v in entries]
    else:
        raise InvalidInput("reference profile has no features")
    prediction = doc.get("prediction")
    target = doc.get("target")
    sample = doc.get("reference_sample")
    try:
        sample_ref = ArtifactRef.model_validate(sample) if sample else None
    except ValidationError as exc:
        raise InvalidInput(
            f"reference profile: bad reference_sample: {describe_validation(exc)}"
        ) from exc
    return ReferenceProfile(
        features=features,
        prediction=parse_feature(prediction, "prediction") if prediction else None,
        target_name=(target.get("name") if isinstance(target, dict) else target) or None,
        sample=sample_ref,
    )
