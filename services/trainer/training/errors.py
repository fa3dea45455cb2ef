"""Why a training job fails for good: each reason becomes a ``training.failed`` event."""

from __future__ import annotations


class TrainingRejected(Exception):
    """The job cannot succeed however often it runs; the message is for the requester."""


class DataError(TrainingRejected):
    """The dataset is unusable: a missing column, wrong types, too few rows, one class."""


class RequestError(TrainingRejected):
    """The request asks for something the trainer cannot do (unknown metric, algorithm...)."""


class CapExceeded(RequestError):
    """The request asks for more than a cap allows (trials, grid, a hyperparameter...).

    ``cap`` names the limit (a setting, or the hyperparameter with a fixed range) and
    ``limit`` is its value; the message says both, and what was asked only as a number.
    """

    def __init__(self, message: str, *, cap: str, limit: int | float | None) -> None:
        super().__init__(message)
        self.cap = cap
        self.limit = limit


class ParityError(TrainingRejected):
    """The exported ONNX model does not predict what the scikit-learn model predicts."""
