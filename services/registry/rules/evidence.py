"""What the registry measures a scorecard on: its own test cases, and the rules read plainly.

The test cases become evaluation data (CSV: every input field, then
:data:`~services.registry.rules.scorecard.TARGET`, the decision the authors expect) and
the plain-Python decisions (:func:`~services.registry.rules.compile.evaluate`) the
reference predictions, so the sandbox measures the compiled graph exactly as it measures
an uploaded model: accuracy is the share of test cases the graph passes, label parity
whether the graph decides as the rules read. The uploader's own claims are never used.
"""

from __future__ import annotations

import csv
import io

from services.registry.rules.compile import evaluate
from services.registry.rules.scorecard import TARGET, Scorecard


def _csv(header: list[str], rows: list[list[object]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows([[repr(v) if isinstance(v, float) else v for v in row] for row in rows])
    return out.getvalue().encode()


def test_cases_csv(card: Scorecard) -> bytes:
    names = list(card.inputs)
    return _csv([*names, TARGET], [[*(t.inputs[n] for n in names), t.decision] for t in card.tests])


def plain_decisions_csv(card: Scorecard) -> bytes:
    return _csv(["decision"], [[evaluate(card, t.inputs)[0]] for t in card.tests])
