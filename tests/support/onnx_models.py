"""Small ONNX models built in the test from scikit-learn's bundled datasets.

Each builder returns a :class:`BuiltModel`: the ONNX bytes, a holdout ``X`` (float32) and
what scikit-learn predicted for it, so a test can check that whoever serves the bytes
answers like the original estimator. Classifiers are exported without ZipMap: their
probability output is a plain ``FP32`` tensor, which the Open Inference Protocol can carry.
Builders are cached (the fit is deterministic), so tests may call them freely.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper
from skl2onnx import to_onnx
from sklearn.datasets import load_breast_cancer, load_diabetes
from sklearn.ensemble import GradientBoostingClassifier
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler


@dataclass(frozen=True)
class BuiltModel:
    onnx: bytes
    X_holdout: np.ndarray
    expected: np.ndarray  # labels for classifiers, predictions for regressors


def _split(loader: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    X, y = loader(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(
        X.astype(np.float32), y, test_size=0.2, random_state=0
    )
    return X_train, X_test, y_train, y_test


def _export(estimator: Any, X_train: np.ndarray, classifier: bool) -> bytes:
    options = {id(estimator): {"zipmap": False}} if classifier else None
    exported = to_onnx(estimator, X_train[:1], options=options, target_opset=17)
    return bytes(exported.SerializeToString())


@cache
def logistic_regression_onnx() -> BuiltModel:
    """Binary classifier on breast_cancer: inputs ``X`` FP32 [-1, 30]."""
    X_train, X_test, y_train, _ = _split(load_breast_cancer)
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500))
    model.fit(X_train, y_train)
    return BuiltModel(_export(model, X_train, True), X_test, model.predict(X_test))


@cache
def gradient_boosting_onnx(n_estimators: int = 20) -> BuiltModel:
    """Tree ensemble on breast_cancer (``ai.onnx.ml`` operators); grows with ``n_estimators``."""
    X_train, X_test, y_train, _ = _split(load_breast_cancer)
    model = GradientBoostingClassifier(n_estimators=n_estimators, max_depth=3, random_state=0)
    model.fit(X_train, y_train)
    return BuiltModel(_export(model, X_train, True), X_test, model.predict(X_test))


@cache
def regression_onnx() -> BuiltModel:
    """Linear regression on diabetes: inputs ``X`` FP32 [-1, 10], output ``variable``."""
    X_train, X_test, y_train, _ = _split(load_diabetes)
    model = LinearRegression().fit(X_train, y_train)
    return BuiltModel(_export(model, X_train, False), X_test, model.predict(X_test))


def custom_domain_onnx() -> bytes:
    """A well-formed model whose only node is an operator from a non-standard domain."""
    node = helper.make_node("Scramble", ["X"], ["Y"], domain="com.example.secret")
    graph = helper.make_graph(
        [node],
        "custom",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, [None, 4])],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, [None, 4])],
    )
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.example.secret", 1)],
    )
    return bytes(model.SerializeToString())


def external_data_onnx(location: str = "../../etc/weights.bin") -> bytes:
    """A model whose initializer claims to live in a file next to (or outside) the artifact."""
    weights = helper.make_tensor("W", TensorProto.FLOAT, [4], [1.0, 2.0, 3.0, 4.0])
    weights.ClearField("float_data")
    weights.data_location = TensorProto.EXTERNAL
    for key, value in (("location", location), ("offset", "0"), ("length", "16")):
        entry = weights.external_data.add()
        entry.key, entry.value = key, value
    node = helper.make_node("Add", ["X", "W"], ["Y"])
    graph = helper.make_graph(
        [node],
        "external",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, [None, 4])],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, [None, 4])],
        initializer=[weights],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    return bytes(model.SerializeToString())


def predict(onnx_bytes: bytes, X: np.ndarray) -> np.ndarray:
    """The first output of the model on ``X`` (labels for classifiers, values for regressors)."""
    import onnxruntime

    session = onnxruntime.InferenceSession(onnx_bytes, providers=["CPUExecutionProvider"])
    return np.asarray(session.run(None, {session.get_inputs()[0].name: X})[0])


def tagged(onnx_bytes: bytes, note: str) -> bytes:
    """The same model with ``note`` as its doc string: equal behaviour, distinct digest."""
    model = onnx.load_from_string(onnx_bytes)
    model.doc_string = note
    return bytes(model.SerializeToString())


def two_inputs_fp64_onnx() -> bytes:
    """A hand-built binary classifier: FP64 inputs ``a`` and ``b``, each ``[batch]``.

    ``p = sigmoid(2a - b + 0.5)``; outputs ``label`` (INT64, ``p > 0.5``) and
    ``probability`` (FP64, P(label 1)). No training framework involved: what a model made
    outside modelbus looks like. :func:`two_inputs_fp64_predict` is the same in NumPy.
    """
    double = TensorProto.DOUBLE
    consts = [
        helper.make_tensor("two", double, [], [2.0]),
        helper.make_tensor("half", double, [], [0.5]),
    ]
    nodes = [
        helper.make_node("Mul", ["a", "two"], ["a2"]),
        helper.make_node("Sub", ["a2", "b"], ["d"]),
        helper.make_node("Add", ["d", "half"], ["logit"]),
        helper.make_node("Sigmoid", ["logit"], ["probability"]),
        helper.make_node("Greater", ["probability", "half"], ["positive"]),
        helper.make_node("Cast", ["positive"], ["label"], to=TensorProto.INT64),
    ]
    graph = helper.make_graph(
        nodes,
        "two_inputs",
        [
            helper.make_tensor_value_info("a", double, ["batch"]),
            helper.make_tensor_value_info("b", double, ["batch"]),
        ],
        [
            helper.make_tensor_value_info("label", TensorProto.INT64, ["batch"]),
            helper.make_tensor_value_info("probability", double, ["batch"]),
        ],
        initializer=consts,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model, full_check=True)
    return bytes(model.SerializeToString())


def two_inputs_fp64_predict(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (1.0 / (1.0 + np.exp(-(2.0 * a - b + 0.5))) > 0.5).astype(np.int64)


def two_inputs_eval_csv(rows: int = 400, seed: int = 0, noise: float = 0.1) -> tuple[str, str]:
    """Evaluation data for :func:`two_inputs_fp64_onnx` (columns ``a``, ``b``, ``group``,
    ``y``; about ``1 - noise`` accuracy) and the reference predictions CSV."""
    rng = np.random.default_rng(seed)
    a, b = rng.normal(size=rows), rng.normal(size=rows)
    group = rng.integers(0, 2, size=rows)
    predicted = two_inputs_fp64_predict(a, b)
    flip = rng.random(rows) < noise
    y = np.where(flip, 1 - predicted, predicted)
    data = [
        "a,b,group,y",
        *(f"{x:.17g},{z:.17g},{g},{t}" for x, z, g, t in zip(a, b, group, y, strict=True)),
    ]
    reference = ["prediction", *(str(p) for p in predicted)]
    return "\n".join(data) + "\n", "\n".join(reference) + "\n"


def memory_hog_onnx(side: int = 40_000) -> bytes:
    """A few hundred bytes that ask for ``side``² floats (6.4 GB by default).

    ``Y = X + sum(ConstantOfShape([side, side]))``: constant folding would compute the sum
    while the session loads; without folding the allocation happens on the first run.
    """
    shape = helper.make_tensor("shape", TensorProto.INT64, [2], [side, side])
    nodes = [
        helper.make_node(
            "ConstantOfShape",
            ["shape"],
            ["big"],
            value=helper.make_tensor("one", TensorProto.FLOAT, [1], [1.0]),
        ),
        helper.make_node("ReduceSum", ["big"], ["total"], keepdims=0),
        helper.make_node("Add", ["X", "total"], ["Y"]),
    ]
    graph = helper.make_graph(
        nodes,
        "hog",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, [None, 1])],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, [None, 1])],
        initializer=[shape],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return bytes(model.SerializeToString())


def csv_text(header: list[str], rows: Any) -> str:
    lines = [",".join(header)]
    lines.extend(",".join(f"{float(v):.17g}" if not isinstance(v, int | np.integer) else str(v)
                          for v in row) for row in rows)  # fmt: skip
    return "\n".join(lines) + "\n"


@cache
def logistic_regression_eval_csv() -> tuple[str, str]:
    """The holdout of :func:`logistic_regression_onnx` as evaluation data (columns
    ``f0``..``f29`` and ``y``) and scikit-learn's predictions on it as reference."""
    _, X_test, _, y_test = _split(load_breast_cancer)
    built = logistic_regression_onnx()
    header = [f"f{i}" for i in range(X_test.shape[1])] + ["y"]
    rows = [[*map(float, x), int(y)] for x, y in zip(X_test, y_test, strict=True)]
    reference = ["prediction", *(str(int(p)) for p in built.expected)]
    return csv_text(header, rows), "\n".join(reference) + "\n"
