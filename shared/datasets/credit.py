"""A synthetic credit-application table: mixed types, a few missing values, a known signal.

Generated from a seed (never downloaded), for the trainer's tests, the demo and the
benchmarks. Each row is one application; ``defaulted`` (0/1) is drawn from a logistic
model whose coefficients are :data:`SIGNAL`, so a model trained on the table has
something real to learn: the repayment burden (``amount`` over ``income``), employment,
the sales channel, age and the country all move the odds.

The same seed always gives the same rows, in the same order, on any platform (NumPy's
``default_rng``). Missing values: ``income`` and ``employment`` are absent on about
:data:`MISSING_RATE` of the rows each (``None``), as when an applicant skips a field.
``shift`` makes a drifted copy for monitoring: applications move to one country and to
larger amounts.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from typing import Any

import numpy as np

TARGET = "defaulted"
SENSITIVE = "age_band"
CATEGORICAL = ("country", "product", "channel", "employment", "age_band")
NUMERIC = ("income", "amount", "age", "term_months")
COLUMNS = (*CATEGORICAL, *NUMERIC, TARGET)
MISSING_RATE = 0.03

COUNTRIES = {"DE": 0.30, "FR": 0.22, "ES": 0.14, "IT": 0.14, "NL": 0.10, "PL": 0.06, "SE": 0.04}
PRODUCTS = {"card": 0.40, "personal_loan": 0.30, "auto_loan": 0.20, "mortgage": 0.10}
CHANNELS = {"online": 0.45, "branch": 0.30, "partner": 0.15, "phone": 0.10}
EMPLOYMENT = {"salaried": 0.62, "self_employed": 0.14, "retired": 0.12, "student": 0.06}
EMPLOYMENT_UNEMPLOYED = 0.06  # the remaining share
# Typical amount per product (the median of a log-normal).
AMOUNT_MEDIAN = {
    "card": 2_000.0,
    "personal_loan": 9_000.0,
    "auto_loan": 18_000.0,
    "mortgage": 160_000.0,
}
TERM_MONTHS = {
    "card": (12,),
    "personal_loan": (12, 24, 36, 48),
    "auto_loan": (36, 48, 60),
    "mortgage": (120, 240, 300),
}

# Log-odds of default: the intercept, per unit of burden, per category.
SIGNAL: dict[str, Any] = {
    "intercept": -4.0,
    "burden": 12.0,  # yearly repayment over yearly income
    "employment": {"unemployed": 3.0, "student": 0.7, "self_employed": 0.4},
    "channel": {"partner": 1.5, "phone": 0.3},
    "country": {"PL": 0.5, "ES": 0.3, "SE": -0.4},
    "young": 0.5,  # under 25
}


@dataclass(frozen=True)
class Shift:
    """A drift to apply: a share of rows moved to ``country``, amounts scaled by ``amount``."""

    country: str = "PL"
    country_share: float = 0.6
    amount: float = 1.8


def _pick(rng: np.random.Generator, shares: dict[str, float], n: int) -> np.ndarray:
    labels = list(shares)
    p = np.asarray(list(shares.values()), dtype=np.float64)
    return rng.choice(np.asarray(labels, dtype=object), size=n, p=p / p.sum())


def age_band(age: int) -> str:
    return "under_30" if age < 30 else "30_to_50" if age <= 50 else "over_50"


def credit_applications(
    rows: int = 3_000, *, seed: int = 0, shift: Shift | None = None
) -> dict[str, list[Any]]:
    """The table as columns (``COLUMNS`` order); missing values are ``None``."""
    if rows < 1:
        raise ValueError("rows must be at least 1")
    rng = np.random.default_rng(seed)
    country = _pick(rng, COUNTRIES, rows)
    product = _pick(rng, PRODUCTS, rows)
    channel = _pick(rng, CHANNELS, rows)
    employment = _pick(rng, EMPLOYMENT | {"unemployed": EMPLOYMENT_UNEMPLOYED}, rows)
    age = np.clip(np.round(rng.normal(41, 12, rows)), 18, 80).astype(np.int64)
    age[employment == "student"] = np.clip(age[employment == "student"] - 15, 18, 35)
    age[employment == "retired"] = np.maximum(age[employment == "retired"], 60)
    income = np.round(rng.lognormal(np.log(42_000), 0.45, rows), -2)
    income[employment == "unemployed"] *= 0.35
    income[employment == "student"] *= 0.4
    amount = np.array([AMOUNT_MEDIAN[p] for p in product]) * rng.lognormal(0, 0.5, rows)
    term = np.array([rng.choice(TERM_MONTHS[p]) for p in product], dtype=np.int64)
    if shift is not None:
        moved = rng.random(rows) < shift.country_share
        country[moved] = shift.country
        amount *= shift.amount
    amount = np.round(amount, -1)
    burden = (amount / (term / 12.0)) / np.maximum(income, 1.0)
    logit = SIGNAL["intercept"] + SIGNAL["burden"] * np.minimum(burden, 5.0)
    for column, effects in (("employment", employment), ("channel", channel), ("country", country)):
        logit += np.array([SIGNAL[column].get(v, 0.0) for v in effects])
    logit += SIGNAL["young"] * (age < 25)
    defaulted = (rng.random(rows) < 1 / (1 + np.exp(-logit))).astype(np.int64)
    income_missing = rng.random(rows) < MISSING_RATE
    employment_missing = rng.random(rows) < MISSING_RATE
    return {
        "country": country.tolist(),
        "product": product.tolist(),
        "channel": channel.tolist(),
        "employment": [
            None if m else v for v, m in zip(employment, employment_missing, strict=True)
        ],
        "age_band": [age_band(int(a)) for a in age],
        "income": [None if m else float(v) for v, m in zip(income, income_missing, strict=True)],
        "amount": [float(v) for v in amount],
        "age": [int(v) for v in age],
        "term_months": [int(v) for v in term],
        TARGET: [int(v) for v in defaulted],
    }


def to_csv(columns: dict[str, list[Any]]) -> bytes:
    """The table as CSV with a header; a missing value is an empty field."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    names = list(columns)
    writer.writerow(names)
    for row in zip(*(columns[n] for n in names), strict=True):
        writer.writerow(["" if v is None else v for v in row])
    return out.getvalue().encode()


def credit_csv(rows: int = 3_000, *, seed: int = 0, shift: Shift | None = None) -> bytes:
    return to_csv(credit_applications(rows, seed=seed, shift=shift))
