"""Which alerts turn into a retraining request, and what that request asks for."""

from __future__ import annotations

from services.trainer.retraining import retraining_request
from shared.events.common import ArtifactRef
from shared.events.monitoring import DriftDetected
from shared.events.training import DatasetSpec, TrainingRequested
from tests.support import events


def last(retraining: str) -> TrainingRequested:
    return TrainingRequested(
        request_id="first",
        model_name="churn",
        task="classification",
        seed=3,
        dataset=DatasetSpec(builtin="breast_cancer"),
        metric="f1",
        candidates=[{"algorithm": "random_forest", "search_space": {"max_depth": [4, 8]}}],
        metadata={"owner": "ana", "retraining": retraining},
    )


def drift(alert_id: str = "a1") -> DriftDetected:
    return events.drift("churn", 4, alert_id=alert_id, features=[])


def test_only_models_that_opted_in_are_retrained() -> None:
    assert retraining_request(None, drift()) is None
    assert retraining_request(last("off"), drift()) is None


def test_a_retraining_repeats_the_search_for_the_alerted_version() -> None:
    request = retraining_request(last("auto"), drift())
    assert request is not None
    assert (request.reason, request.parent_version) == ("drift", 4)
    assert request.candidates == last("auto").candidates and request.metric == "f1"
    assert request.metadata.owner == "ana" and request.request_id != "first"
    assert request.request_id == retraining_request(last("auto"), drift()).request_id  # type: ignore[union-attr]
    assert request.request_id != retraining_request(last("auto"), drift("a2")).request_id  # type: ignore[union-attr]


def test_performance_alerts_say_so() -> None:
    request = retraining_request(last("auto"), events.degraded("churn", 2, alert_id="p"))
    assert request is not None and request.reason == "performance"


def test_the_monitors_labelled_traffic_is_appended_to_the_training_data() -> None:
    labelled = ArtifactRef(uri="file:///tmp/recent.csv", sha256="0" * 64, size=10)
    alert = drift().model_copy(update={"labelled_data": labelled})
    request = retraining_request(last("auto"), alert)
    assert request is not None and request.extra_data == labelled
    assert request.dataset == last("auto").dataset  # the original data stays the base
