"""HTTP requests become training requests, or a 400 that says why not."""

from __future__ import annotations

import pytest

from services.trainer.api import router
from services.trainer.api.request_body import parse_request
from services.trainer.settings import TrainerSettings
from services.trainer.training.bounds import Caps
from shared.bus.unit_of_work import Transactions
from shared.errors import InvalidInput
from shared.http.auth import Principal
from shared.store.sources import ArtifactSources, SourceRefused
from tests.unit.registry.fakes import FakeArtifactStore

ANA = Principal("ana", "data-scientist", "t1")
SOURCES = ArtifactSources(FakeArtifactStore())
CAPS = Caps()


def test_defaults_are_filled_from_the_caller() -> None:
    request = parse_request(
        {"model_name": "m", "task": "classification", "dataset": {"builtin": "iris"}},
        ANA,
        SOURCES,
        CAPS,
    )
    assert request.metadata.owner == "ana" and len(request.request_id) == 32
    explicit = parse_request(
        {
            "request_id": "mine",
            "model_name": "m",
            "task": "regression",
            "dataset": {"builtin": "diabetes"},
            "metadata": {"owner": "bob"},
        },
        ANA,
        SOURCES,
        CAPS,
    )
    assert (explicit.request_id, explicit.metadata.owner) == ("mine", "bob")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            {"model_name": "Bad Name", "task": "classification", "dataset": {"builtin": "iris"}},
            "model_name",
        ),
        (
            {
                "model_name": "m",
                "task": "classification",
                "dataset": {"builtin": "iris"},
                "metric": "rmse",
            },
            "not available for classification",
        ),
        (
            {
                "model_name": "m",
                "task": "regression",
                "dataset": {"builtin": "diabetes"},
                "candidates": [{"algorithm": "logistic_regression"}],
            },
            "cannot be used",
        ),
        ({"model_name": "m", "task": "regression", "dataset": {}}, "exactly one"),
    ],
)
def test_bad_requests_are_refused(body: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        parse_request(body, ANA, SOURCES, CAPS)


@pytest.mark.parametrize(
    ("uri", "rule"),
    [
        ("file:///proc/self/environ", "MODELBUS_ARTIFACT_SOURCE_DIRS"),
        ("https://169.254.169.254/latest/meta-data", "MODELBUS_ARTIFACT_SOURCE_HOSTS"),
        ("ftp://example.org/data.csv", "claim checks name this artifact store"),
    ],
)
def test_datasets_outside_the_sources_are_refused_before_any_read(uri: str, rule: str) -> None:
    dataset = {"artifact": {"uri": uri, "sha256": "0" * 64, "size": 1}, "format": "csv"}
    body = {"model_name": "m", "task": "classification", "dataset": dataset}
    with pytest.raises(SourceRefused, match=rule) as refused:
        parse_request(body, ANA, SOURCES, CAPS)
    assert refused.value.status_code == 422


def test_every_route_requires_a_role() -> None:
    routes = router(Transactions(None, "trainer"), SOURCES, TrainerSettings()).routes  # type: ignore[arg-type]
    for route in routes:
        roles = [getattr(d.call, "required_role", None) for d in route.dependant.dependencies]  # type: ignore[attr-defined]
        assert any(roles), route.path  # type: ignore[attr-defined]
