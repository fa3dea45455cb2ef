"""The scorecard document: input fields, rules that add points, decision bands, test cases.

```yaml
kind: scorecard
metadata: {owner: credit-risk, description: Application scorecard}
inputs: {income: number, country: string}
base_points: 0
rules:
  - {name: good_income, field: income, op: ">=", value: 50000, points: 20}
  - {name: risky_country, field: country, op: in, values: [PL, ES], points: -15}
bands:                       # the first band whose min_score the score reaches
  - {min_score: 20, decision: approve}
  - {min_score: 0, decision: review}
default: decline             # below every band
tests:
  - {inputs: {income: 60000, country: DE}, decision: approve}
```

A number field is compared as FP32 (what a client sends and the graph computes with); a
string field only for (in)equality and set membership. Points and scores are integers.

The document is hostile input: it is parsed with ``yaml.safe_load`` after a byte cap
(:data:`MAX_BYTES`), and the number of inputs, rules, bands, values per rule and test
cases is capped, so neither the parse nor the compiled graph nor its evaluation can cost
more than a small model. Every refusal names the place in the document, not its values.
"""

from __future__ import annotations

from typing import Annotated, Literal, Self

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from shared.errors import InvalidInput, PayloadTooLarge, describe_validation
from shared.events.common import ModelMetadata

MAX_BYTES = 256 * 1024
MAX_INPUTS = 64
MAX_RULES = 200
MAX_BANDS = 20
MAX_VALUES = 100
MAX_TESTS = 1_000
MAX_POINTS = 1_000_000

FieldName = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")]
Label = Annotated[str, Field(min_length=1, max_length=100)]
NumberOp = Literal["<", "<=", ">", ">=", "==", "!="]
TextOp = Literal["==", "!=", "in", "not_in"]
Points = Annotated[int, Field(ge=-MAX_POINTS, le=MAX_POINTS)]


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)


class Rule(_Strict):
    name: FieldName
    field: FieldName
    op: Literal["<", "<=", ">", ">=", "==", "!=", "in", "not_in"]
    value: float | Annotated[str, Field(max_length=200)] | None = None
    values: list[Annotated[str, Field(max_length=200)]] | None = Field(
        default=None, min_length=1, max_length=MAX_VALUES
    )
    points: Points

    @model_validator(mode="after")
    def _one_operand(self) -> Self:
        sets = self.op in ("in", "not_in")
        if sets and (self.values is None or self.value is not None):
            raise ValueError(f"op {self.op!r} takes 'values' (a list), not 'value'")
        if not sets and (self.value is None or self.values is not None):
            raise ValueError(f"op {self.op!r} takes one 'value', not 'values'")
        return self


class Band(_Strict):
    min_score: Points
    decision: Label


class TestCase(_Strict):
    inputs: dict[FieldName, float | Annotated[str, Field(max_length=200)]]
    decision: Label


TARGET = "expected_decision"  # the column of a test case's decision in the evaluation data


class Scorecard(_Strict):
    kind: Literal["scorecard"]
    description: str | None = Field(default=None, max_length=2_000)
    # Owner, risk tier, ...: as for any model (``tags.policy`` is always ``rules``).
    metadata: ModelMetadata = Field(default_factory=ModelMetadata)
    inputs: dict[FieldName, Literal["number", "string"]] = Field(
        min_length=1, max_length=MAX_INPUTS
    )
    base_points: Points = 0
    rules: list[Rule] = Field(min_length=1, max_length=MAX_RULES)
    bands: list[Band] = Field(min_length=1, max_length=MAX_BANDS)
    default: Label
    tests: list[TestCase] = Field(min_length=1, max_length=MAX_TESTS)

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if TARGET in self.inputs:
            raise ValueError(f"{TARGET!r} is the name of the test cases' decision column")
        names = [r.name for r in self.rules]
        if len(set(names)) != len(names):
            raise ValueError("rule names must be unique")
        for i, rule in enumerate(self.rules):
            kind = self.inputs.get(rule.field)
            if kind is None:
                raise ValueError(f"rules[{i}] ({rule.name}): field {rule.field!r} is no input")
            if kind == "number" and (rule.op in ("in", "not_in") or isinstance(rule.value, str)):
                raise ValueError(f"rules[{i}] ({rule.name}): a number field takes a number "
                                 "and one of < <= > >= == !=")  # fmt: skip
            if kind == "string" and (rule.op not in ("==", "!=", "in", "not_in")
                                     or isinstance(rule.value, float)):  # fmt: skip
                raise ValueError(f"rules[{i}] ({rule.name}): a string field takes text "
                                 "and one of == != in not_in")  # fmt: skip
        scores = [b.min_score for b in self.bands]
        if scores != sorted(scores, reverse=True) or len(set(scores)) != len(scores):
            raise ValueError("bands must be in strictly descending min_score order")
        for i, case in enumerate(self.tests):
            if set(case.inputs) != set(self.inputs):
                raise ValueError(f"tests[{i}]: inputs must give every input field, no other")
            for name, value in case.inputs.items():
                if (self.inputs[name] == "string") != isinstance(value, str):
                    raise ValueError(f"tests[{i}]: {name!r} must be a {self.inputs[name]}")
        return self

    @property
    def decisions(self) -> list[str]:
        return sorted({self.default, *(b.decision for b in self.bands)})


class _NoAliases(yaml.SafeLoader):
    """``safe_load`` without anchors and aliases: a small document of aliases to aliases
    expands into an enormous one for whoever walks it."""

    def compose_node(self, parent: yaml.Node | None, index: object) -> yaml.Node | None:
        if self.check_event(yaml.AliasEvent):
            raise yaml.composer.ComposerError(
                None,
                None,
                "aliases are not allowed",
                self.peek_event().start_mark,  # type: ignore[no-untyped-call]
            )
        return super().compose_node(parent, index)  # type: ignore[arg-type]


def parse_scorecard(raw: bytes) -> Scorecard:
    """The document in ``raw``, or a 4xx error saying what is wrong with it."""
    if len(raw) > MAX_BYTES:
        raise PayloadTooLarge(f"the rules document is over {MAX_BYTES} bytes")
    try:
        doc = yaml.load(raw.decode("utf-8"), Loader=_NoAliases)  # a safe loader
    except UnicodeDecodeError as exc:
        raise InvalidInput("the rules document is not UTF-8 text") from exc
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        at = f" at line {where.line + 1}" if where is not None else ""
        problem = getattr(exc, "problem", None)
        why = f": {problem}" if problem == "aliases are not allowed" else ""
        raise InvalidInput(f"the rules document is not valid YAML{at}{why}") from exc
    if not isinstance(doc, dict):
        raise InvalidInput("the rules document must be a YAML mapping")
    try:
        return Scorecard.model_validate(doc)
    except ValidationError as exc:
        raise InvalidInput(f"the rules document is not valid: {describe_validation(exc)}") from exc
