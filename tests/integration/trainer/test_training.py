"""Requests for the bundled datasets train to a verified ONNX model with its evidence."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort
import orjson
import pytest
from sklearn.model_selection import train_test_split

from services.trainer.training.candidates import build_pipeline
from services.trainer.training.datasets import load_builtin
from shared.events.reference_profile import parse_reference_profile
from shared.events.training import TrainingCompleted
from shared.runtime import ServiceProcess
from shared.settings import Settings
from tests.integration.trainer.helpers import csv_dataset, outcomes, request
from tests.support import loan_notes
from tests.support.bus import publish

pytestmark = pytest.mark.integration


async def test_bundled_datasets_train_to_onnx_that_matches_scikit_learn(
    trainer: ServiceProcess, settings: Settings, unique: str
) -> None:
    assert trainer.infra is not None
    store = trainer.infra.artifacts
    asks = [
        request(
            f"cancer-{unique}",
            "breast_cancer",
            seed=7,
            metadata={"owner": "ana", "risk_tier": "high", "sensitive_attribute": "mean radius"},
        ),
        request(f"diabetes-{unique}", "diabetes", task="regression", seed=7),
    ]
    await publish(settings.kafka_bootstrap, *asks)
    for ask in asks:
        [event] = await outcomes(settings.kafka_bootstrap, "training.completed", ask.request_id)
        done: TrainingCompleted = event.data
        classifier = ask.task == "classification"
        assert done.model_name == ask.model_name and done.parity_passed
        assert event.correlationid is not None and event.causationid is not None
        assert {c.algorithm for c in done.candidates} >= (
            {"logistic_regression", "random_forest", "hist_gradient_boosting", "mlp"}
            if classifier
            else {"linear_regression", "random_forest", "mlp"}
        )
        expected_metrics = (
            {"accuracy", "precision", "recall", "f1", "roc_auc", "log_loss"}
            if classifier
            else {"rmse", "mae", "r2"}
        )
        assert expected_metrics <= set(done.metrics)

        # The stored ONNX model predicts what the same pipeline predicts in scikit-learn.
        onnx_bytes = await store.get(done.artifact)
        data = load_builtin(ask.dataset.builtin or "", ask.task)
        X_train, X_hold, y_train, _ = train_test_split(
            data.X,
            data.y,
            test_size=ask.holdout_fraction,
            random_state=ask.seed,
            stratify=data.y if classifier else None,
        )
        pipeline = build_pipeline(
            done.algorithm,
            ask.task,
            seed=ask.seed,
            params=done.params["hyperparameters"],
            impute=False,
        )
        pipeline.fit(X_train, y_train)
        X32 = X_hold.astype(np.float32)
        session = ort.InferenceSession(onnx_bytes, providers=["CPUExecutionProvider"])
        assert [i.name for i in session.get_inputs()] == ["input"]
        outputs = session.run(None, {"input": X32})
        if classifier:
            np.testing.assert_array_equal(outputs[0], pipeline.predict(X32))
            np.testing.assert_allclose(outputs[1], pipeline.predict_proba(X32), atol=1e-4)
            assert set(done.fairness) >= {
                "demographic_parity_difference",
                "equal_opportunity_difference",
            }
        else:
            np.testing.assert_allclose(outputs[0].ravel(), pipeline.predict(X32), rtol=1e-4)
        assert done.params["feature_names"] == data.feature_names
        assert done.dataset_sha256 == data.digest

        # Evidence artifacts exist and verify against their digests.
        assert done.reference_profile and done.importance and done.reference_sample
        profile = orjson.loads(await store.get(done.reference_profile))
        assert [f["name"] for f in profile["features"]] == data.feature_names
        assert profile["reference_sample"]["sha256"] == done.reference_sample.sha256
        importance = orjson.loads(await store.get(done.importance))
        assert set(importance["features"]) == set(data.feature_names)
        assert set(done.feature_importance) == set(data.feature_names)
        sample = (await store.get(done.reference_sample)).decode().splitlines()
        assert sample[0].split(",")[: len(data.feature_names)] == data.feature_names


async def test_a_table_with_a_free_text_column_trains_through_the_service(
    trainer: ServiceProcess, settings: Settings, unique: str, tmp_path: Path
) -> None:
    assert trainer.infra is not None
    rows = loan_notes.applications(600, seed=4)
    dataset = csv_dataset(tmp_path / "notes.csv", loan_notes.to_csv(rows).decode())
    ask = request(
        f"notes-{unique}",
        dataset,
        target=loan_notes.TARGET,
        candidates=[{"algorithm": "logistic_regression"}],
    )
    await publish(settings.kafka_bootstrap, ask)
    [event] = await outcomes(settings.kafka_bootstrap, "training.completed", ask.request_id)
    done: TrainingCompleted = event.data
    assert done.parity_passed
    assert done.params["inputs"] == {"note": "text", "channel": "categorical", "income": "numeric"}
    assert done.reference_profile is not None and done.reference_sample is not None
    profile = parse_reference_profile(await trainer.infra.artifacts.get(done.reference_profile))
    assert [f.measure for f in profile.features] == ["words", None, None]
    sample = await trainer.infra.artifacts.get(done.reference_sample)
    assert not any(word.encode() in sample for word in loan_notes.WORDS)  # counts, no text
