"""Scorecards: the document's checks, the compiled graph, and the graph against plain Python."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from services.registry.domain.validation import STANDARD_DOMAINS, inspect_model
from services.registry.rules.compile import compile_scorecard, evaluate
from services.registry.rules.scorecard import MAX_BYTES, MAX_RULES, parse_scorecard
from shared.errors import InvalidInput, PayloadTooLarge
from tests.support.scorecards import FIELDS, SCORECARD_YAML, scorecard_rows


def _feed(rows: list[dict[str, object]]) -> dict[str, np.ndarray]:
    return {
        name: np.array([[r[name]] for r in rows], dtype=object if kind == "string" else np.float32)
        for name, kind in FIELDS.items()
    }


def test_the_compiled_graph_decides_as_the_rules_read_in_python() -> None:
    card = parse_scorecard(SCORECARD_YAML.encode())
    model = compile_scorecard(card)
    session = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
    rows = scorecard_rows(1_000, seed=3)
    labels, scores = session.run(["label", "score"], _feed(rows))
    expected = [evaluate(card, r) for r in rows]
    assert [str(v) for v in labels.ravel()] == [d for d, _ in expected]
    assert scores.ravel().tolist() == [s for _, s in expected]
    assert len({d for d, _ in expected}) == 3  # every band and the default are reached
    for case in card.tests:
        assert evaluate(card, case.inputs)[0] == case.decision


def test_the_graph_uses_standard_operators_and_passes_the_registrys_checks() -> None:
    model = compile_scorecard(parse_scorecard(SCORECARD_YAML.encode()))
    proto = onnx.load_model_from_string(model)
    assert {n.domain for n in proto.graph.node} <= STANDARD_DOMAINS
    signature = inspect_model(model, max_bytes=10_000_000)
    assert {s.name: s.datatype for s in signature.inputs} == {
        n: "BYTES" if k == "string" else "FP32" for n, k in FIELDS.items()
    }
    assert {s.name: s.datatype for s in signature.outputs} == {"label": "BYTES", "score": "INT64"}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[1, 2]", "must be a YAML mapping"),
        ("kind: scorecard\ninputs: {a: number\n", "not valid YAML at line"),
        ("a: &x [1]\nb: *x\n", "aliases are not allowed"),
        (SCORECARD_YAML.replace("field: age", "field: height"), "field 'height' is no input"),
        (SCORECARD_YAML.replace("op: in, values: [PL, ES]", "op: <, value: 3"),
         "a string field takes text"),
        (SCORECARD_YAML.replace("min_score: 30", "min_score: -5"), "descending min_score"),
        (SCORECARD_YAML.replace("country: DE, employment: salaried},\n     decision: refer",
                                "country: DE},\n     decision: refer"), "every input field"),
        (SCORECARD_YAML.replace("kind: scorecard", "kind: table"), "kind"),
        (SCORECARD_YAML + "extra: 1\n", "extra"),
    ],
)  # fmt: skip
def test_bad_documents_are_refused_with_the_reason(text: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        parse_scorecard(text.encode())


def test_size_and_rule_count_are_capped() -> None:
    with pytest.raises(PayloadTooLarge):
        parse_scorecard(b"#" * (MAX_BYTES + 1))
    rule = "  - {name: r%d, field: age, op: '<', value: 1, points: 1}\n"
    many = SCORECARD_YAML.replace(
        "rules:\n", "rules:\n" + "".join(rule % i for i in range(MAX_RULES + 1))
    )
    with pytest.raises(InvalidInput, match="rules"):
        parse_scorecard(many.encode())
