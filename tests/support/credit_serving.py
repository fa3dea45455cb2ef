"""What the credit model must answer through tritonclient: what scikit-learn answers.

The expected answers come from the trainer's own pipeline code fit here on the demo's
credit table with the demo's request (one algorithm, one setting, the same seed), so they
are the scikit-learn pipeline the platform trained, not a copy of the served graph.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import tritonclient.http as triton
from sklearn.pipeline import Pipeline

from modelbus.demo.demo_data import CREDIT_ROWS, CREDIT_SEED, DATASETS
from modelbus.demo.scenario import training_request
from services.trainer.training import mixed
from services.trainer.training.candidates import build_pipeline
from services.trainer.training.onnx_export import to_onnx
from services.trainer.training.splits import prepare
from shared.datasets import credit
from shared.events.training import TrainingRequested


def fitted_pipeline(tmp: Path) -> tuple[Pipeline, mixed.Layout]:
    data = credit.credit_csv(CREDIT_ROWS, seed=CREDIT_SEED)
    path = tmp / "credit.csv"
    path.write_bytes(data)
    artifact = {"uri": path.as_uri(), "sha256": hashlib.sha256(data).hexdigest(),
                "size": len(data)}  # fmt: skip
    body = training_request(
        "credit-parity",
        data=DATASETS["credit"],
        dataset_fields={"dataset": {"artifact": artifact, "format": "csv"},
                        "target": credit.TARGET},
    )  # fmt: skip
    request = TrainingRequested.model_validate(body)
    split = prepare(request, path, None)
    layout = split.data.layout
    assert layout is not None and request.candidates
    [candidate] = request.candidates
    params = {k: v[0] for k, v in candidate.search_space.items()}
    pipeline = build_pipeline(candidate.algorithm, request.task, seed=request.seed,
                              params=params, impute=True, layout=layout)  # fmt: skip
    return pipeline.fit(split.X_train, split.y_train), layout


def exported(pipeline: Pipeline, layout: mixed.Layout) -> bytes:
    """The fitted pipeline as the trainer exports it: one ONNX input per raw column."""
    return to_onnx(pipeline, len(layout.features), classifier=True, layout=layout)


def applications(rows: int, seed: int) -> pd.DataFrame:
    """Rows to score, with missing values; the last one's country was never seen."""
    table = credit.credit_applications(rows, seed=seed)
    table["country"][-1] = "Atlantis"
    columns = {
        n: np.array([v or mixed.MISSING_CATEGORY for v in table[n]], dtype=object)
        if n in credit.CATEGORICAL
        else np.array([np.nan if v is None else v for v in table[n]], dtype=np.float64)
        for n in (*credit.CATEGORICAL, *credit.NUMERIC)
    }
    return pd.DataFrame(columns)


def served_answers(
    port: int, token: str, model: str, frame: pd.DataFrame, layout: mixed.Layout
) -> dict[str, Any]:
    """tritonclient's HTTP client, unmodified: one input per column, binary and JSON."""
    client = triton.InferenceServerClient(f"127.0.0.1:{port}")
    auth = {"Authorization": f"Bearer {token}"}
    metadata = client.get_model_metadata(model, headers=auth)
    inputs = []
    for name, array in mixed.feeds(mixed.as_float32(frame, layout), layout).items():
        text = name in layout.categorical
        tensor = triton.InferInput(name, list(array.shape), "BYTES" if text else "FP32")
        # Text as JSON, numbers (NaN for a missing income) as binary data.
        tensor.set_data_from_numpy(array, binary_data=not text)
        inputs.append(tensor)
    outputs = [triton.InferRequestedOutput(n) for n in ("label", "probabilities")]
    result = client.infer(model, inputs, outputs=outputs, headers=auth)
    return {
        "metadata": metadata,
        "label": result.as_numpy("label"),
        "probabilities": result.as_numpy("probabilities"),
    }


def grpc_columns(frame: pd.DataFrame, layout: mixed.Layout) -> dict[str, Any]:
    """The frame's columns as ``tests.support.triton_grpc`` reads them from JSON."""
    return {
        name: {
            "datatype": "BYTES" if name in layout.categorical else "FP32",
            "values": [str(v) for v in array.ravel()]
            if name in layout.categorical
            else array.ravel().tolist(),  # NaN for a missing income, as JSON allows in Python
        }
        for name, array in mixed.feeds(mixed.as_float32(frame, layout), layout).items()
    }
