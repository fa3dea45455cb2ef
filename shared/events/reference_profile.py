"""The reference profile: what a model's training data and predictions looked like.

The monitor compares live traffic with it. It travels by claim check
(``ModelRegistered.reference_profile``): the trainer writes one for every model it trains
(:mod:`shared.reference_builder`), and whoever submits a model from outside
(``model.submitted``) may attach the same document. Its JSON Schema is
``docs/reference-profile.schema.json``; format ``modelbus.reference-profile/1``.

One entry per input column, in the order of the model's input tensor; ``count`` is the
number of values present and ``missing_rate`` the fraction missing:

- numeric: ``K+1`` strictly ascending quantile ``bin_edges`` and ``K`` ``bin_counts`` with
  numpy.histogram semantics (each bin half-open, the last one closed) summing to
  ``count``, and ``min``, ``max``, ``mean``, ``std``. A constant column has the one bin
  ``[c, c]``; a column never present has ``count`` 0, no bins and no statistics.
- categorical: ``categories``, the integer count of each category keyed by its canonical
  label (:func:`canonical_label`: ``"1"``, never ``"1.0"``), summing to ``count``.

Either kind may say ``"measure": "words"``: the column is free text, described (and
monitored) by the number of words of each value, never by the text itself.

A classifier's profile may carry ``holdout`` (:class:`HoldoutScores`): its class scores,
predicted and true labels on rows it was not fit on, which the monitor calibrates on to
estimate accuracy and ROC AUC before labels arrive. At most :data:`HOLDOUT_ROWS` rows and
:data:`HOLDOUT_CELLS` scores.
"""

from __future__ import annotations

import itertools
import json
from typing import Annotated, Any, Literal, Self

from pydantic import ConfigDict, Field, NonNegativeInt, ValidationError, model_validator

from shared.errors import InvalidInput, describe_validation
from shared.events.common import ArtifactRef, Payload, Task

FORMAT = "modelbus.reference-profile/1"
HOLDOUT_ROWS = 5_000
HOLDOUT_CELLS = 100_000  # rows x classes
HOLDOUT_CLASSES = 100  # a window keeps 512 bins per class


def canonical_label(value: Any) -> str:
    """One spelling per category: ``1``, ``1.0``, ``True`` and ``"1"`` are all ``"1"``."""
    if isinstance(value, bool):
        return str(int(value))
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


class _Column(Payload):
    model_config = ConfigDict(allow_inf_nan=False)

    name: str = Field(min_length=1)
    count: NonNegativeInt  # values present
    missing_rate: float = Field(ge=0.0, le=1.0)
    # "words": the entry counts the words of a free-text input (shared.text_features),
    # and live values are measured the same way; absent: the values themselves.
    measure: Literal["words"] | None = None


class NumericColumn(_Column):
    kind: Literal["numeric"] = "numeric"
    min: float | None = None
    max: float | None = None
    mean: float | None = None
    std: float | None = Field(None, ge=0.0)
    bin_edges: tuple[float, ...] = ()
    bin_counts: tuple[NonNegativeInt, ...] = ()

    @model_validator(mode="after")
    def _bins_describe_the_values(self) -> Self:
        stats = (self.min, self.max, self.mean, self.std)
        if self.count == 0:
            if self.bin_edges or self.bin_counts or any(s is not None for s in stats):
                raise ValueError("a column never present has no bins and no statistics")
            return self
        if any(s is None for s in stats):
            raise ValueError("a column present needs min, max, mean and std")
        edges = self.bin_edges
        if len(edges) < 2 or len(self.bin_counts) != len(edges) - 1:
            raise ValueError(
                f"needs K+1 bin_edges and K bin_counts, got {len(edges)} and {len(self.bin_counts)}"
            )
        constant = len(edges) == 2 and edges[0] == edges[1]
        if not constant and any(b <= a for a, b in itertools.pairwise(edges)):
            raise ValueError("bin_edges must be strictly ascending ([c, c] for a constant)")
        if sum(self.bin_counts) != self.count:
            raise ValueError("bin_counts must sum to count")
        return self


class CategoricalColumn(_Column):
    kind: Literal["categorical"] = "categorical"
    categories: dict[str, NonNegativeInt] = Field(min_length=1)

    @model_validator(mode="after")
    def _categories_count_the_values(self) -> Self:
        if sum(self.categories.values()) != self.count:
            raise ValueError("categories must sum to count")
        return self


ColumnProfile = Annotated[NumericColumn | CategoricalColumn, Field(discriminator="kind")]


class TargetProfile(Payload):
    name: str = Field(min_length=1)  # the training target column
    distribution: ColumnProfile | None = None  # of the target on the profiled rows


class HoldoutScores(Payload):
    """A classifier's outputs on its holdout, with the truth: what calibration needs.

    ``classes`` are canonical labels in the order of the score columns (sorted class order,
    as skl2onnx writes ``probabilities``); each row of ``scores`` has one score in [0, 1]
    per class; ``predicted`` and ``actual`` are labels among ``classes``."""

    model_config = ConfigDict(allow_inf_nan=False)

    classes: tuple[str, ...] = Field(min_length=2, max_length=HOLDOUT_CLASSES)
    scores: tuple[tuple[Annotated[float, Field(ge=0.0, le=1.0)], ...], ...] = Field(
        min_length=1, max_length=HOLDOUT_ROWS
    )
    predicted: tuple[str, ...]
    actual: tuple[str, ...]

    @model_validator(mode="after")
    def _rows_agree(self) -> Self:
        rows, width = len(self.scores), len(self.classes)
        if len(set(self.classes)) != width:
            raise ValueError("classes must be unique")
        if rows * width > HOLDOUT_CELLS:
            raise ValueError(f"at most {HOLDOUT_CELLS} scores (rows x classes)")
        if len(self.predicted) != rows or len(self.actual) != rows:
            raise ValueError("predicted and actual need one label per row of scores")
        if any(len(r) != width for r in self.scores):
            raise ValueError("every row of scores needs one score per class")
        known = set(self.classes)
        if not known.issuperset(self.predicted) or not known.issuperset(self.actual):
            raise ValueError("predicted and actual labels must be among classes")
        return self


class ReferenceProfile(Payload):
    """The document; :meth:`to_json` is how it is stored, :func:`parse_reference_profile`
    how it is read."""

    format: Literal["modelbus.reference-profile/1"]
    task: Task | None = None
    rows: NonNegativeInt | None = None  # rows profiled
    features: tuple[ColumnProfile, ...] = Field(min_length=1)
    target: TargetProfile | None = None
    prediction: ColumnProfile | None = None  # the model's output, on rows it was not fit on
    reference_sample: ArtifactRef | None = None  # :mod:`shared.events.reference_sample`
    holdout: HoldoutScores | None = None  # classifiers: for performance estimation

    @model_validator(mode="after")
    def _one_entry_per_column(self) -> Self:
        if len(set(self.feature_names)) != len(self.features):
            raise ValueError("feature names must be unique")
        return self

    @property
    def feature_names(self) -> list[str]:
        return [f.name for f in self.features]

    def to_json(self) -> bytes:
        return self.model_dump_json(exclude_none=True).encode()


def schema_document() -> str:
    """The JSON Schema of the document, as ``modelbus asyncapi`` writes it into the docs."""
    schema = ReferenceProfile.model_json_schema()
    schema["$id"] = FORMAT
    return json.dumps(schema, indent=2) + "\n"


def parse_reference_profile(raw: bytes) -> ReferenceProfile:
    """The document in ``raw``, or :class:`InvalidInput` saying what is wrong with it."""
    try:
        return ReferenceProfile.model_validate_json(raw)
    except ValidationError as exc:
        raise InvalidInput(f"reference profile: {describe_validation(exc)}") from exc
