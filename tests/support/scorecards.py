"""A five-rule credit scorecard, and rows to score with it."""

from __future__ import annotations

from typing import Any

import numpy as np

SCORECARD_YAML = """\
kind: scorecard
description: Points for a credit application; approve, refer to an officer, or decline.
inputs:
  income: number
  amount: number
  age: number
  country: string
  employment: string
base_points: 10
rules:
  - {name: good_income, field: income, op: ">=", value: 45000, points: 25}
  - {name: large_amount, field: amount, op: ">", value: 20000.5, points: -20}
  - {name: young, field: age, op: "<", value: 25, points: -10}
  - {name: watched_country, field: country, op: in, values: [PL, ES], points: -15}
  - {name: not_employed, field: employment, op: in, values: [unemployed, student], points: -30}
bands:
  - {min_score: 30, decision: approve}
  - {min_score: 0, decision: refer}
default: decline
tests:
  - {inputs: {income: 60000, amount: 5000, age: 40, country: DE, employment: salaried},
     decision: approve}
  - {inputs: {income: 30000, amount: 5000, age: 40, country: DE, employment: salaried},
     decision: refer}
  - {inputs: {income: 30000, amount: 30000, age: 22, country: PL, employment: student},
     decision: decline}
  - {inputs: {income: 45000, amount: 20000.5, age: 25, country: ES, employment: salaried},
     decision: refer}
  - {inputs: {income: 50000, amount: 1000, age: 30, country: Atlantis, employment: retired},
     decision: approve}
"""

FIELDS = {"income": "number", "amount": "number", "age": "number", "country": "string",
          "employment": "string"}  # fmt: skip


def scorecard_rows(rows: int, seed: int) -> list[dict[str, Any]]:
    """Rows around every threshold, with categories inside and outside every set."""
    rng = np.random.default_rng(seed)
    countries = np.array(["DE", "FR", "PL", "ES", "Atlantis"], dtype=object)
    jobs = np.array(["salaried", "unemployed", "student", "retired", ""], dtype=object)
    return [
        {
            "income": float(rng.choice([45000.0, 44999.0, *rng.normal(45000, 15000, 3)])),
            "amount": float(rng.choice([20000.5, 20000.0, 20001.0, *rng.lognormal(9.5, 1, 2)])),
            "age": float(rng.integers(18, 70)),
            "country": str(rng.choice(countries)),
            "employment": str(rng.choice(jobs)),
        }
        for _ in range(rows)
    ]


def rows_csv(rows: list[dict[str, Any]]) -> bytes:
    """Rows as a reference table: a header of the input fields, one line per row."""
    lines = [",".join(FIELDS)]
    lines += [",".join(str(r[n]) for n in FIELDS) for r in rows]
    return ("\n".join(lines) + "\n").encode()
