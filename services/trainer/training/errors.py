"""Why a training job fails for good: each reason becomes a ``training.failed`` event."""

from __future__ import annotations


class TrainingRejected(Exception):
    """The job cannot succeed however often it runs; the message is for the requester."""


class DataError(TrainingRejected):
    """The dataset is unusable: a missing column, wrong types, too few rows, one class."""


class RequestError(TrainingRejected):
    """The request asks for something the trainer cannot do (unknown metric, algorithm...)."""


class ParityError(TrainingRejected):
    """The exported ONNX model does not predict what the scikit-learn model predicts."""
