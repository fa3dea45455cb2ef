"""The caps on what one training request may ask for, as both doors check them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from services.trainer.api.request_body import BeyondCaps, parse_request
from services.trainer.settings import TrainerSettings
from services.trainer.training.bounds import Caps, check_request
from services.trainer.training.candidates import DEFAULT_SEARCH
from services.trainer.training.errors import CapExceeded
from services.trainer.training.tables import read_columns
from shared.events.common import ArtifactRef
from shared.events.training import DatasetSpec, TrainingRequested
from shared.http.auth import Principal
from shared.store.sources import ArtifactSources
from tests.unit.registry.fakes import FakeArtifactStore

CAPS = Caps()


def ask(*candidates: dict[str, Any], **fields: Any) -> TrainingRequested:
    fields.setdefault("dataset", DatasetSpec(builtin="breast_cancer"))
    return TrainingRequested(
        request_id="r1",
        model_name="m",
        task=fields.pop("task", "classification"),
        candidates=list(candidates),
        **fields,
    )


def refusal(request: TrainingRequested, caps: Caps = CAPS) -> CapExceeded:
    with pytest.raises(CapExceeded) as refused:
        check_request(request, caps)
    return refused.value


def test_a_million_trial_search_is_refused_naming_the_cap() -> None:
    error = refusal(ask(max_trials_per_candidate=10**6))
    assert (error.cap, error.limit) == ("max_trials_per_candidate", 50)
    assert str(error) == (
        "max_trials_per_candidate is 1000000; the trainer allows at most 50"
        " (MODELBUS_TRAINER_MAX_TRIALS_PER_CANDIDATE)"
    )


def test_trials_are_counted_as_the_search_runs_them() -> None:
    # Per candidate: the grid, or max_trials_per_candidate if the grid is larger.
    wide = {
        "algorithm": "logistic_regression",
        "search_space": {"C": [0.1 * i for i in range(1, 41)]},
    }
    narrow = {"algorithm": "random_forest", "search_space": {"max_depth": [2, 4]}}
    check_request(ask(wide, wide, narrow, max_trials_per_candidate=40), CAPS)  # 40+40+2
    error = refusal(ask(wide, wide, wide, max_trials_per_candidate=40))  # 120
    assert error.cap == "max_trials" and "the search has 120 trials" in str(error)
    assert "MODELBUS_TRAINER_MAX_TRIALS)" in str(error)


def test_the_grid_is_the_product_of_the_value_lists() -> None:
    space = {
        name: list(range(1, 11))
        for name in ("max_depth", "min_samples_leaf", "max_leaf_nodes", "n_estimators")
    }
    check_request(ask({"algorithm": "random_forest", "search_space": space}), CAPS)  # 10^4
    space["min_samples_split"] = [2, 3]
    error = refusal(ask({"algorithm": "random_forest", "search_space": space}))
    assert error.cap == "max_grid_size"
    assert "candidate 1 (random_forest): the search space has more than 10000" in str(error)


def test_too_many_candidates() -> None:
    many = [{"algorithm": "ridge"}] * 9
    error = refusal(ask(*many, task="regression"))
    assert (error.cap, error.limit) == ("max_candidates", 8)
    assert "names 9 candidates" in str(error)


@pytest.mark.parametrize(
    ("algorithm", "name", "value", "cap", "shown"),
    [
        ("random_forest", "n_estimators", 10**8, "max_estimators", "is 100000000"),
        ("random_forest", "n_estimators", 0, "max_estimators", "is 0"),
        ("random_forest", "max_depth", 65, "max_depth", "is 65"),
        ("hist_gradient_boosting", "max_leaf_nodes", 10**6, "max_leaf_nodes", "is 1000000"),
        ("hist_gradient_boosting", "max_iter", 10**9, "max_iter", "is 1000000000"),
        ("mlp", "hidden_layer_sizes", [4096], "max_layer_width", "a layer of width 4096"),
        ("mlp", "hidden_layer_sizes", [8] * 10, "max_hidden_layers", "has 10 layers"),
        ("mlp", "hidden_layer_sizes", 10**7, "max_layer_width", "a layer of width 10000000"),
    ],
)
def test_the_costly_hyperparameters_are_capped(
    algorithm: str, name: str, value: Any, cap: str, shown: str
) -> None:
    values = [None, value] if name == "max_depth" else [value]
    error = refusal(ask({"algorithm": algorithm, "search_space": {name: values}}))
    assert error.cap == cap and error.limit == getattr(CAPS, cap)
    assert shown in str(error) and f"MODELBUS_TRAINER_{cap.upper()}" in str(error)


def test_a_huge_value_is_shown_as_its_size_never_verbatim() -> None:
    spec = {"algorithm": "random_forest", "search_space": {"n_estimators": [10**5000]}}
    error = refusal(ask(spec))
    assert "a number of about 5001 digits" in str(error) and "0000000000000" not in str(error)


@pytest.mark.parametrize(
    ("algorithm", "name", "value", "message"),
    [
        ("random_forest", "n_estimators", "lots", "must be a whole number"),
        ("random_forest", "n_estimators", 10.5, "must be a whole number"),
        ("random_forest", "n_estimators", True, "must be a whole number"),
        ("mlp", "hidden_layer_sizes", "wide", "must be a whole number or a list of them"),
        ("logistic_regression", "C", 0, "must be a number in (0, 1e+06]"),
        ("logistic_regression", "C", 1e300, "must be a number in (0, 1e+06]"),
        ("logistic_regression", "C", "1", "must be a number in (0, 1e+06]"),
        ("mlp", "alpha", -1.0, "must be a number in [0, 1e+06]"),
        ("random_forest", "n_jobs", -1, "is set by the trainer"),
        ("mlp", "verbose", True, "is set by the trainer"),
    ],
)
def test_values_outside_their_range_are_refused(
    algorithm: str, name: str, value: Any, message: str
) -> None:
    error = refusal(ask({"algorithm": algorithm, "search_space": {name: [value]}}))
    assert message in str(error) and f"candidate 1 ({algorithm}): {name}" in str(error)


def test_ordinary_searches_pass() -> None:
    for task, specs in DEFAULT_SEARCH.items():
        check_request(ask(*[s.model_dump() for s in specs], task=task), CAPS)
    check_request(ask(), CAPS)  # no candidates: the default search
    mlp = {"hidden_layer_sizes": [[64, 32], 128], "alpha": [0.0, 0.1], "max_iter": [500]}
    forest = {"n_estimators": [100, 500], "max_depth": [None, 8, 64]}
    check_request(
        ask(
            {"algorithm": "mlp", "search_space": mlp},
            {"algorithm": "random_forest", "search_space": forest},
        ),
        CAPS,
    )


def test_announced_dataset_sizes_are_capped() -> None:
    ref = ArtifactRef(uri="file:///data/big.csv", sha256="0" * 64, size=CAPS.max_dataset_bytes + 1)
    error = refusal(ask(dataset=DatasetSpec(artifact=ref)))
    assert error.cap == "max_dataset_bytes" and "the dataset file announces" in str(error)
    error = refusal(ask(extra_data=ref))
    assert "the extra_data file announces" in str(error)


def test_the_settings_set_the_caps(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MODELBUS_TRAINER_MAX_TRIALS", "3")
    monkeypatch.setenv("MODELBUS_TRAINER_MAX_DATASET_CELLS", "1000")
    caps = TrainerSettings().caps()
    assert (caps.max_trials, caps.max_dataset_cells, caps.max_estimators) == (3, 1000, 500)
    spec = {"algorithm": "logistic_regression", "search_space": {"C": [0.1, 1.0, 10.0, 100.0]}}
    assert refusal(ask(spec), caps).limit == 3


def test_the_http_door_answers_422_naming_the_cap_and_the_limit() -> None:
    body = {
        "model_name": "m",
        "task": "classification",
        "dataset": {"builtin": "iris"},
        "max_trials_per_candidate": 10**6,
    }
    sources = ArtifactSources(FakeArtifactStore())
    with pytest.raises(BeyondCaps) as refused:
        parse_request(body, Principal("ana", "data-scientist", "t"), sources, CAPS)
    error = refused.value
    assert (error.status_code, error.code) == (422, "cap_exceeded")
    assert error.detail == {
        "cap": "max_trials_per_candidate",
        "limit": 50,
        "setting": "MODELBUS_TRAINER_MAX_TRIALS_PER_CANDIDATE",
    }


def test_reading_stops_at_the_cell_cap(tmp_path: Path) -> None:
    path = tmp_path / "wide.csv"
    path.write_text("a,b,c\n" + "1,2,3\n" * 4)
    assert len(read_columns(path, "csv", max_cells=12)["a"]) == 4
    with pytest.raises(Exception, match=r"more than 11 cells \(rows x columns\)"):
        read_columns(path, "csv", max_cells=11)
    with pytest.raises(Exception, match="MODELBUS_TRAINER_MAX_DATASET_CELLS"):
        read_columns(path, "csv", max_cells=2)  # the header alone
