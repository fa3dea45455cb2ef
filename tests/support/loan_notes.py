"""Loan applications with a free-text note: the words of the note carry the signal."""

from __future__ import annotations

import csv
import io
from typing import Any

import numpy as np
import pandas as pd

from services.trainer.training import mixed

WORDS = "car repair holiday school fees kitchen wedding furniture moving home garden".split()
RISKY = ("overdue", "gambling", "arrears")
COLUMNS = ("note", "channel", "income")
TARGET = "defaulted"
LAYOUT = mixed.Layout(COLUMNS, frozenset({"note", "channel"}), frozenset({"note"}))


def applications(n: int, seed: int) -> list[dict[str, Any]]:
    """Rows of ``note``, ``channel``, ``income`` and ``defaulted``: a risky word in the note
    (capitalised) makes a default likely; one note in 40 is empty."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        words = list(rng.choice(WORDS, size=int(rng.integers(3, 9))))
        risky = rng.random() < 0.3
        if risky:
            words.insert(int(rng.integers(0, len(words))), str(rng.choice(RISKY)).title())
        income = float(rng.normal(3000, 800))
        odds = (2.5 if risky else -1.5) + (income < 2500) * 0.8
        rows.append(
            {"note": "" if i % 40 == 0 else " ".join(words),
             "channel": str(rng.choice(["online", "branch", "partner"])),
             "income": round(income, 2),
             TARGET: int(rng.random() < 1 / (1 + np.exp(-odds)))}
        )  # fmt: skip
    return rows


def to_csv(rows: list[dict[str, Any]]) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, [*COLUMNS, TARGET], lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode()


def frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """The rows as the trainer reads them (no target)."""
    return pd.DataFrame({n: [r[n] for r in rows] for n in COLUMNS})
