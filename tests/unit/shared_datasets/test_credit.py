import csv
import io

import numpy as np

from shared.datasets.credit import (
    CATEGORICAL,
    COLUMNS,
    NUMERIC,
    TARGET,
    Shift,
    credit_applications,
    credit_csv,
)


def test_the_same_seed_gives_the_same_table_and_another_seed_another() -> None:
    assert credit_csv(500, seed=3) == credit_csv(500, seed=3)
    assert credit_csv(500, seed=3) != credit_csv(500, seed=4)


def test_columns_are_of_their_kind_with_a_few_missing_values() -> None:
    table = credit_applications(3_000, seed=0)
    assert tuple(table) == COLUMNS
    for name in CATEGORICAL:
        assert all(v is None or isinstance(v, str) for v in table[name])
    for name in NUMERIC:
        assert all(v is None or isinstance(v, int | float) for v in table[name])
    for name in ("income", "employment"):
        missing = sum(v is None for v in table[name]) / 3_000
        assert 0.01 < missing < 0.06
    assert set(table[TARGET]) == {0, 1}


def test_the_signal_is_there_for_a_model_to_learn() -> None:
    table = credit_applications(6_000, seed=1)
    y = np.asarray(table[TARGET])
    employment = np.asarray(table["employment"], dtype=object)
    assert y[employment == "unemployed"].mean() > 2 * y[employment == "salaried"].mean()
    channel = np.asarray(table["channel"], dtype=object)
    assert y[channel == "partner"].mean() > y[channel == "branch"].mean()


def test_a_shift_moves_the_country_mix_and_the_amounts() -> None:
    before = credit_applications(2_000, seed=2)
    after = credit_applications(2_000, seed=2, shift=Shift(country="PL", amount=2.0))
    share = lambda t: sum(c == "PL" for c in t["country"]) / 2_000  # noqa: E731
    assert share(after) > share(before) + 0.4
    assert np.median(after["amount"]) > 1.5 * np.median(before["amount"])


def test_the_csv_has_a_header_and_empty_fields_for_missing_values() -> None:
    rows = list(csv.reader(io.StringIO(credit_csv(200, seed=0).decode())))
    assert tuple(rows[0]) == COLUMNS
    assert len(rows) == 201
    income = [r[COLUMNS.index("income")] for r in rows[1:]]
    assert all(v == "" or float(v) > 0 for v in income)
