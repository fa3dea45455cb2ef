"""``modelbus models``: arguments become the right registry requests."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from modelbus.cli import build_parser
from modelbus.commands import models


class RecordingClient:
    calls: list[tuple[str, str, dict[str, Any]]] = []

    def __init__(self, service: str, timeout: float = 30.0) -> None:
        assert service == "registry"

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        self.calls.append((method, path, kwargs))
        if method == "POST":
            return {"model_name": "churn", "version": 3, "artifact": {"sha256": "ab"}}
        if path == "/v1/models":
            return []
        return {"version": 2, "since": "2026-01-01T00:00:00Z"}

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> Any:
        return self.request("POST", path, **kwargs)


@pytest.fixture(autouse=True)
def client(monkeypatch: pytest.MonkeyPatch) -> type[RecordingClient]:
    RecordingClient.calls = []
    monkeypatch.setattr(models, "ServiceClient", RecordingClient)
    return RecordingClient


def run(*argv: str) -> int:
    args = build_parser().parse_args(["models", *argv])
    return int(args.func(args))


def test_register_uploads_the_file_with_its_digest_and_metadata(tmp_path: Path) -> None:
    model = tmp_path / "churn.onnx"
    model.write_bytes(b"onnx bytes")
    assert run("register", "churn", str(model), "--owner", "ana", "--risk-tier", "high",
               "--tag", "team=growth", "--tag", "pii=no", "--upload-id", "u-1") == 0  # fmt: skip
    [(method, path, kwargs)] = RecordingClient.calls
    assert (method, path) == ("POST", "/v1/models/churn/versions")
    assert kwargs["files"]["artifact"][1] == b"onnx bytes"
    metadata = json.loads(kwargs["data"]["metadata"])
    assert metadata["sha256"] == hashlib.sha256(b"onnx bytes").hexdigest()
    assert metadata["upload_id"] == "u-1" and metadata["task"] == "classification"
    assert metadata["metadata"]["tags"] == {"team": "growth", "pii": "no"}
    assert metadata["metadata"]["owner"] == "ana" and metadata["metadata"]["risk_tier"] == "high"


def test_alias_moves_and_deletes() -> None:
    assert run("alias", "churn", "champion", "2") == 0
    assert run("alias", "churn", "champion", "--delete") == 0
    assert [(m, p, k.get("json")) for m, p, k in RecordingClient.calls] == [
        ("PUT", "/v1/models/churn/aliases/champion", {"version": 2}),
        ("DELETE", "/v1/models/churn/aliases/champion", None),
    ]


def test_show_and_list_call_the_right_paths() -> None:
    run("show", "churn")
    run("show", "churn", "3")
    run("list", "--owner", "ana")
    assert [(p, k.get("params")) for _, p, k in RecordingClient.calls] == [
        ("/v1/models/churn", None),
        ("/v1/models/churn/versions/3", None),
        ("/v1/models", {"owner": "ana"}),
    ]
