"""One ONNX model in an ONNX Runtime session: its signature, its warm-up and its runs.

Everything here is blocking and runs in a worker thread when loading; only :meth:`run`
is called on the serving path.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import onnxruntime as ort

from services.deployer.runtime.datatypes import NUMPY, from_ort


class ModelUnusable(Exception):
    """The session was built but the model cannot be served (an output type the protocol
    cannot carry, a warm-up run that fails)."""


@dataclass(frozen=True)
class TensorInfo:
    name: str
    datatype: str  # Open Inference Protocol datatype
    shape: tuple[int, ...]  # -1 marks a dynamic dimension
    # Shapes already found to fit: requests repeat a handful of shapes, checked once each.
    _fitting: set[tuple[int, ...]] = field(default_factory=set, compare=False, repr=False)

    def accepts(self, shape: tuple[int, ...]) -> bool:
        if shape in self._fitting:
            return True
        fits = len(shape) == len(self.shape) and all(
            want in (-1, got) for want, got in zip(self.shape, shape, strict=True)
        )
        if fits and len(self._fitting) < 64:
            self._fitting.add(shape)
        return fits

    @property
    def dtype(self) -> np.dtype:
        return NUMPY[self.datatype]

    def describe(self) -> dict[str, object]:
        return {"name": self.name, "datatype": self.datatype, "shape": list(self.shape)}


def _tensor_info(arg: ort.NodeArg, role: str) -> TensorInfo:
    datatype = from_ort(arg.type)
    if datatype is None:
        raise ModelUnusable(
            f"{role} {arg.name!r} has type {arg.type}, which the Open Inference Protocol cannot "
            "carry (export classifiers without ZipMap)"
        )
    shape = tuple(d if isinstance(d, int) and d >= 0 else -1 for d in (arg.shape or []))
    return TensorInfo(arg.name, datatype, shape)


class OnnxModel:
    def __init__(self, session: ort.InferenceSession) -> None:
        self.session = session
        self.inputs = tuple(_tensor_info(a, "input") for a in session.get_inputs())
        self.outputs = tuple(_tensor_info(a, "output") for a in session.get_outputs())
        self.input_by_name = {t.name: t for t in self.inputs}
        self.output_info = {t.name: t for t in self.outputs}
        self.output_names = [t.name for t in self.outputs]
        # Requests can be stacked along the first axis when every input's first axis is
        # dynamic; warm-up then checks that every output follows it.
        self.batchable = all(t.shape and t.shape[0] == -1 for t in self.inputs)
        self.batch_run_ms = 0.0
        # A failing run is reported to the caller and in the prediction log; ONNX Runtime's
        # own error line on stderr would only repeat it, once per bad request.
        self._run_options = ort.RunOptions()
        self._run_options.log_severity_level = 4

    @classmethod
    def build(cls, data: bytes, *, intra_op_threads: int, inter_op_threads: int) -> OnnxModel:
        options = ort.SessionOptions()
        options.intra_op_num_threads = intra_op_threads
        options.inter_op_num_threads = inter_op_threads
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        session = ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])
        return cls(session)

    def run(self, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        return self.session.run(  # type: ignore[no-any-return]
            self.output_names, feeds, self._run_options
        )

    def sample_feeds(self, rows: int) -> dict[str, np.ndarray]:
        """Neutral inputs (zeros, empty strings) with ``rows`` rows in every dynamic first axis."""
        feeds = {}
        for t in self.inputs:
            shape = [rows if i == 0 and d == -1 else max(d, 1) for i, d in enumerate(t.shape)]
            if t.datatype == "BYTES":
                feeds[t.name] = np.full(shape, "", dtype=object)
            else:
                feeds[t.name] = np.zeros(shape, dtype=t.dtype)
        return feeds

    def warm_up(self, max_batch_rows: int, repeats: int = 5) -> None:
        """Run one row, then time the largest batch a run will see (a full batch if
        batchable) and confirm every output follows the rows of the inputs."""
        rows = max_batch_rows if self.batchable else 1
        try:
            self.run(self.sample_feeds(1))
            feeds = self.sample_feeds(rows)
            timings: list[float] = []
            for _ in range(repeats):
                started = time.perf_counter()
                results = self.run(feeds)
                timings.append(time.perf_counter() - started)
        except Exception as exc:
            raise ModelUnusable(f"warm-up run failed: {exc}") from exc
        self.batch_run_ms = sorted(timings)[len(timings) // 2] * 1000
        self.batchable = self.batchable and _rows_follow(results, rows)


def _rows_follow(results: Sequence[np.ndarray], rows: int) -> bool:
    return all(isinstance(r, np.ndarray) and r.ndim >= 1 and r.shape[0] == rows for r in results)
