"""What the protocol's metadata calls answer, whichever transport asks (REST or gRPC)."""

from __future__ import annotations

from typing import Any

from services.deployer.serving.table import ServedModel, ServedVersion

SERVER_NAME = "modelbus-deployer"
SERVER_VERSION = "1"
PLATFORM = "onnxruntime_onnx"


def model_metadata(model: ServedModel, served: ServedVersion) -> dict[str, Any]:
    """A version's signature, with every version of its model that serves here."""
    return {
        "name": model.name,
        "versions": [str(s.version) for s in model.serving],
        "platform": PLATFORM,
        "inputs": [t.describe() for t in served.model.inputs],
        "outputs": [t.describe() for t in served.model.outputs],
    }
