"""``modelbus train`` turns its arguments into a training request body."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from modelbus.cli import build_parser
from modelbus.commands.train import build_request, follow
from services.trainer.api.request_body import parse_request
from services.trainer.training.bounds import Caps
from shared.http.auth import Principal
from shared.store.sources import ArtifactSources
from tests.unit.registry.fakes import FakeArtifactStore


def body(*argv: str) -> dict[str, object]:
    return build_request(build_parser().parse_args(["train", *argv]))


def test_a_bundled_dataset_needs_no_task_and_gets_the_default_search() -> None:
    request = body(
        "cancer",
        "--dataset",
        "breast_cancer",
        "--owner",
        "ana",
        "--retraining",
        "auto",
        "--seed",
        "3",
    )
    assert request == {
        "model_name": "cancer",
        "task": "classification",
        "dataset": {"builtin": "breast_cancer"},
        "candidates": [],
        "seed": 3,
        "metadata": {"owner": "ana", "retraining": "auto"},
    }
    sources = ArtifactSources(FakeArtifactStore())
    parse_request(request, Principal("ana", "data-scientist", "t"), sources, Caps())  # accepted


def test_a_local_file_travels_by_claim_check(tmp_path: Path) -> None:
    path = tmp_path / "churn.csv"
    path.write_text("a,churned\n1,0\n")
    request = body(
        "churn",
        "--dataset",
        str(path),
        "--task",
        "classification",
        "--target",
        "churned",
        "--candidate",
        'random_forest={"max_depth": [4]}',
        "--candidate",
        "mlp",
    )
    assert request["dataset"] == {
        "artifact": {
            "uri": path.as_uri(),
            "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
            "size": path.stat().st_size,
            "media_type": "text/csv",
        },
        "format": "csv",
    }
    assert request["candidates"] == [
        {"algorithm": "random_forest", "search_space": {"max_depth": [4]}},
        {"algorithm": "mlp", "search_space": {}},
    ]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["m", "--dataset", "nowhere.csv", "--task", "regression"], "not a bundled dataset"),
        (
            ["m", "--dataset", "https://x/y.csv", "--sha256", "ab", "--task", "regression"],
            "not a bundled dataset",
        ),
        (["m", "--dataset", "iris", "--candidate", "svm"], "unknown algorithm"),
        (["m", "--dataset", "iris", "--candidate", "mlp={oops"], "not JSON"),
    ],
)
def test_bad_arguments_say_what_is_wrong(argv: list[str], message: str) -> None:
    with pytest.raises(SystemExit, match=message):
        body(*argv)


def test_files_need_a_task(tmp_path: Path) -> None:
    (tmp_path / "d.csv").write_text("a,target\n1,2\n")
    with pytest.raises(SystemExit, match="--task is required"):
        body("m", "--dataset", str(tmp_path / "d.csv"))


class FakeTrainer:
    """Answers GET /v1/jobs/{id} with the job's successive states."""

    def __init__(self, *states: dict[str, object]) -> None:
        self.states = list(states)

    def get(self, path: str) -> dict[str, object]:
        return self.states.pop(0) if len(self.states) > 1 else self.states[0]


def state(status: str, progress: str, **more: object) -> dict[str, object]:
    return {"status": status, "progress": progress, "progress_fraction": 0.5, **more}


def test_waiting_follows_progress_to_the_outcome(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("time.sleep", lambda _: None)
    outcome = {
        "algorithm": "mlp",
        "params": {"hyperparameters": {"alpha": 0.01}},
        "metrics": {"roc_auc": 0.99},
        "artifact": {"uri": "file:///m", "size": 10},
    }
    client = FakeTrainer(
        state("running", "cross-validating"),
        state("running", "exporting"),
        state("succeeded", "succeeded", outcome=outcome),
    )
    assert follow(client, "j1", timeout=60) == 0
    out, err = capsys.readouterr()
    assert "cross-validating" in err and "exporting" in err
    assert "succeeded: mlp" in out and "roc_auc" in out
    failed = FakeTrainer(state("failed", "failed", failure_reason="single class"))
    assert follow(failed, "j2", timeout=60) == 1
    assert "failed: single class" in capsys.readouterr().out
