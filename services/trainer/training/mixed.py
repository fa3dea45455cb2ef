"""Tables with categorical (string) columns: their pipeline, their ONNX inputs, their feeds.

A dataset with at least one categorical feature is a pandas DataFrame (numeric columns
float64 with NaN for missing, categorical columns of ``str`` with
:data:`MISSING_CATEGORY` for missing) and trains behind a ``ColumnTransformer``: numeric
columns are imputed with their median (and standardised for the models that need it),
categorical ones one-hot encoded with ``handle_unknown="ignore"``, so a category never
seen in training encodes as all zeros and still gets an answer. A missing category is a
category of its own (the empty string), at training and at serving alike. A free-text
column gets TF-IDF weights of its :data:`TEXT_TERMS` most frequent words instead (words
it never saw weigh nothing); outside the model, in the reference profile and sample, it
is measured by its word count (:mod:`shared.text_features`).

The exported graph takes the raw columns: one input per feature, named like it, of shape
``[-1, 1]``, BYTES (ONNX string) for categorical and text and FP32 for numeric columns, in the
order of ``params["feature_names"]``. A numeric-only dataset keeps the one FP32 matrix
input of :mod:`services.trainer.training.onnx_export`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from skl2onnx.common.data_types import FloatTensorType, StringTensorType
from sklearn.compose import ColumnTransformer
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from shared.text_features import word_count

MISSING_CATEGORY = ""
TEXT_TERMS = 500  # TF-IDF vocabulary of one text column
# The tokenizer's locale in the graph (ONNX Runtime lowercases with it): one every glibc has.
TEXT_LOCALE = "C.UTF-8"


@dataclass(frozen=True)
class Layout:
    """Which features are numeric, categorical and free text (a kind of categorical: a
    string column), in the dataset's feature order."""

    features: tuple[str, ...]
    categorical: frozenset[str]
    text: frozenset[str] = frozenset()

    @property
    def numeric(self) -> list[str]:
        return [n for n in self.features if n not in self.categorical]

    def kind(self, name: str) -> str:
        if name in self.text:
            return "text"
        return "categorical" if name in self.categorical else "numeric"


def frame(columns: dict[str, np.ndarray], layout: Layout) -> pd.DataFrame:
    return pd.DataFrame({name: columns[name] for name in layout.features})


def preprocessor(layout: Layout, *, scaled: bool) -> ColumnTransformer:
    numeric_steps: list[tuple[str, Any]] = [("impute", SimpleImputer(strategy="median"))]
    if scaled:
        numeric_steps.append(("scale", StandardScaler()))
    parts: list[tuple[str, Any, list[str]]] = []
    if layout.numeric:
        parts.append(("numeric", Pipeline(numeric_steps), layout.numeric))
    categorical = [n for n in layout.features if layout.kind(n) == "categorical"]
    if categorical:
        parts.append(
            (
                "categorical",
                OneHotEncoder(handle_unknown="ignore", sparse_output=False),
                categorical,
            )
        )
    for i, name in enumerate(n for n in layout.features if n in layout.text):
        # The column by its name, not in a list: the vectorizer reads one string per row.
        parts.append((f"text_{i}", TfidfVectorizer(max_features=TEXT_TERMS), name))  # type: ignore[arg-type]
    # Dense out: TF-IDF is sparse, and not every candidate model takes a sparse matrix.
    return ColumnTransformer(parts, sparse_threshold=0.0)


def onnx_options(prepare: ColumnTransformer) -> dict[int, dict[str, Any]]:
    """skl2onnx options of the fitted transformer's text vectorizers."""
    return {
        id(transformer): {"locale": TEXT_LOCALE}
        for name, transformer in prepare.named_transformers_.items()
        if name.startswith("text_")
    }


def initial_types(layout: Layout) -> list[tuple[str, Any]]:
    return [
        (n, StringTensorType([None, 1]) if n in layout.categorical else FloatTensorType([None, 1]))
        for n in layout.features
    ]


def as_float32(data: pd.DataFrame, layout: Layout) -> pd.DataFrame:
    """The frame as a client sends it: numeric columns rounded to float32."""
    out = data.copy()
    for name in layout.numeric:
        out[name] = out[name].to_numpy(dtype=np.float32)
    return out


def feeds(data: pd.DataFrame, layout: Layout) -> dict[str, np.ndarray]:
    """ONNX Runtime feeds of the frame: one ``[rows, 1]`` tensor per column."""
    return {
        name: (
            data[name].to_numpy(dtype=object)
            if name in layout.categorical
            else data[name].to_numpy(dtype=np.float32)
        ).reshape(-1, 1)
        for name in layout.features
    }


def column(data: pd.DataFrame | np.ndarray, index: int) -> np.ndarray:
    """Feature ``index`` of either kind of table (categorical: an object array)."""
    if isinstance(data, pd.DataFrame):
        return np.asarray(data.iloc[:, index].to_numpy())
    return np.asarray(data[:, index])


def as_objects(data: pd.DataFrame, layout: Layout) -> np.ndarray:
    """Rows x columns of the frame as the reference profile and sample describe them:
    missing values as NaN (numeric) or None (categorical), text as its word count."""
    out: np.ndarray = data.to_numpy(dtype=object)
    out[out == MISSING_CATEGORY] = None
    for i, name in enumerate(layout.features):
        if name in layout.text:
            out[:, i] = [word_count(v) for v in out[:, i]]
    return out
