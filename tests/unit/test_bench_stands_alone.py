"""Benchmarks run without the test tree: nothing under bench/ imports from tests/, and what
the serving bench publishes in governance's place is what a deployer accepts."""

from __future__ import annotations

import ast
from pathlib import Path

from bench.serving_tools import DECISION_KEY, DECISION_SIGNER, _approval, _registration
from shared.events.common import ArtifactRef
from shared.events.envelope import decode, encode, new_event
from shared.events.signing import DecisionVerifier

BENCH = Path(__file__).resolve().parents[2] / "bench"


def imported(path: Path) -> set[str]:
    modules = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            modules.add(node.module)
    return modules


def test_no_benchmark_imports_the_test_tree() -> None:
    scripts = sorted(BENCH.rglob("*.py"))
    assert scripts
    offending = {
        f"{p.relative_to(BENCH)}: {m}"
        for p in scripts
        for m in imported(p)
        if m == "tests" or m.startswith("tests.")
    }
    assert not offending


def test_the_serving_bench_approvals_verify_with_the_key_it_hands_the_deployer() -> None:
    ref = ArtifactRef(uri="file:///artifacts/m.onnx", sha256="ab" * 32, size=10)
    registration = new_event(_registration("bench-m", ref), source="registry")
    approval = DECISION_SIGNER.sign(new_event(_approval("bench-m", ref), source="governance"), 1)
    assert decode(encode(registration)) == registration
    decoded = decode(encode(approval))
    DecisionVerifier.of([DECISION_KEY]).verify(decoded)  # raises if it does not verify
    assert (decoded.data.model_name, decoded.govseq) == ("bench-m", 1)
