"""What one training request may cost: the caps, and the one check both doors run.

A request is checked before a job exists, by the HTTP route (a 422) and by the consumer of
``training.requested`` (``training.failed`` and a dead letter), with :func:`check_request`:

* the search: at most ``max_candidates`` candidates, ``max_trials_per_candidate`` as
  asked, ``max_grid_size`` combinations in one candidate's search space (the product of
  its value lists) and ``max_trials`` trials in all (per candidate, the grid or
  ``max_trials_per_candidate`` if fewer, as :func:`services.trainer.training.candidates.trials`
  picks them);
* the hyperparameters that make one fit expensive, whatever the algorithm:
  ``n_estimators``, ``max_depth``, ``max_leaf_nodes``, ``max_iter`` and the layers of
  ``hidden_layer_sizes``; a few others must lie in a sane range (``C``, ``alpha``, the
  learning rates), and ``n_jobs`` and ``verbose`` are the trainer's to set;
* the announced size of the dataset files (``max_dataset_bytes``). Rows x columns are
  only known once the file is read: the training process stops reading at
  ``max_dataset_cells`` (:mod:`services.trainer.training.tables`).

The time and memory a job may take are enforced on its process (see
:mod:`services.trainer.runner`), whatever passed here.

A refusal names the cap (as the ``MODELBUS_TRAINER_*`` setting that sets it) and its
limit, and shows what was asked only as a number: never a value list or a huge literal.
This module imports nothing heavy, so the HTTP door can run it without scikit-learn.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from services.trainer.training.errors import CapExceeded
from shared.events.training import CandidateSpec, TrainingRequested

SETTINGS_PREFIX = "MODELBUS_TRAINER_"


@dataclass(frozen=True)
class Caps:
    """The limits :func:`check_request` enforces; the field names are the settings' names."""

    max_candidates: int = 8
    max_trials_per_candidate: int = 50
    max_trials: int = 100
    max_grid_size: int = 10_000
    max_estimators: int = 500
    max_depth: int = 64
    max_leaf_nodes: int = 4096
    max_iter: int = 5_000
    max_hidden_layers: int = 4
    max_layer_width: int = 512
    max_dataset_bytes: int = 512 * 1024 * 1024
    max_dataset_cells: int = 20_000_000


# Hyperparameter -> (the cap bounding it, whether None is a legal value). Every value must
# be a whole number in [1, cap].
_COUNTED: dict[str, tuple[str, bool]] = {
    "n_estimators": ("max_estimators", False),
    "max_depth": ("max_depth", True),  # None: grown until pure, bounded by the rows
    "max_leaf_nodes": ("max_leaf_nodes", True),
    "max_iter": ("max_iter", False),
}
# Hyperparameters whose values must be numbers in a fixed range (low exclusive if open).
_RANGES: dict[str, tuple[float, float, bool]] = {
    "C": (0.0, 1e6, True),
    "alpha": (0.0, 1e6, False),
    "learning_rate": (0.0, 10.0, True),
    "learning_rate_init": (0.0, 10.0, True),
}
# Set by the trainer, not searchable: each job gets its share of the cores (n_jobs), and
# the process's stdout carries its progress reports (verbose).
_RESERVED = {
    "n_jobs": "it shares the cores out between jobs",
    "verbose": "the training process's output carries its progress",
}


def check_request(request: TrainingRequested, caps: Caps) -> None:
    """Refuse ``request`` with :class:`CapExceeded` if it asks for more than ``caps`` allow."""
    for ref in (request.dataset.artifact, request.extra_data):
        if ref is not None and ref.size > caps.max_dataset_bytes:
            what = "dataset" if ref is request.dataset.artifact else "extra_data"
            _refuse(
                f"the {what} file announces {_shown(ref.size)} bytes", "max_dataset_bytes", caps
            )
    if request.max_trials_per_candidate > caps.max_trials_per_candidate:
        _refuse(
            f"max_trials_per_candidate is {_shown(request.max_trials_per_candidate)}",
            "max_trials_per_candidate",
            caps,
        )
    if len(request.candidates) > caps.max_candidates:
        _refuse(f"the request names {len(request.candidates)} candidates", "max_candidates", caps)
    total = 0
    for position, spec in enumerate(request.candidates, start=1):
        where = f"candidate {position} ({spec.algorithm})"
        grid = grid_size(spec, caps.max_grid_size)
        if grid > caps.max_grid_size:
            _refuse(f"{where}: the search space has more than {_shown(caps.max_grid_size)} "
                    "combinations", "max_grid_size", caps)  # fmt: skip
        total += min(grid, request.max_trials_per_candidate)
        for name, values in spec.search_space.items():
            _check_values(where, name, values, caps)
    if total > caps.max_trials:
        _refuse(f"the search has {_shown(total)} trials", "max_trials", caps)


def grid_size(spec: CandidateSpec, bound: int) -> int:
    """The number of combinations of ``spec``'s value lists, or ``bound + 1`` if more."""
    size = 1
    for values in spec.search_space.values():
        size *= len(values)
        if size > bound:
            return bound + 1
    return size


def cap_setting(cap: str) -> str:
    """The environment variable that sets ``cap``."""
    return f"{SETTINGS_PREFIX}{cap.upper()}"


def _check_values(where: str, name: str, values: Sequence[Any], caps: Caps) -> None:
    if name in _RESERVED:
        raise CapExceeded(
            f"{where}: {name} is set by the trainer ({_RESERVED[name]}) and cannot be searched",
            cap=name,
            limit=None,
        )
    for index, value in enumerate(values, start=1):
        at = f"{where}: {name} value {index}"
        if name in _COUNTED:
            cap, none_allowed = _COUNTED[name]
            if value is None and none_allowed:
                continue
            _check_count(at, value, cap, caps)
        elif name == "hidden_layer_sizes":
            _check_layers(at, value, caps)
        elif name in _RANGES:
            _check_range(at, name, value)


def _check_count(at: str, value: Any, cap: str, caps: Caps) -> None:
    if not _is_whole(value):
        raise CapExceeded(f"{at} must be a whole number", cap=cap, limit=getattr(caps, cap))
    if value < 1 or value > getattr(caps, cap):
        _refuse(f"{at} is {_shown(value)}", cap, caps, low=1)


def _check_layers(at: str, value: Any, caps: Caps) -> None:
    layers = [value] if _is_whole(value) else value
    if not isinstance(layers, list) or not all(_is_whole(width) for width in layers):
        raise CapExceeded(
            f"{at} must be a whole number or a list of them (the width of each hidden layer)",
            cap="max_layer_width",
            limit=caps.max_layer_width,
        )
    if not 1 <= len(layers) <= caps.max_hidden_layers:
        _refuse(f"{at} has {len(layers)} layers", "max_hidden_layers", caps, low=1)
    for width in layers:
        if width < 1 or width > caps.max_layer_width:
            _refuse(f"{at} has a layer of width {_shown(width)}", "max_layer_width", caps, low=1)


def _check_range(at: str, name: str, value: Any) -> None:
    low, high, open_low = _RANGES[name]
    number = float(value) if _is_number(value) else math.nan
    inside = (low < number if open_low else low <= number) and number <= high
    if not inside:
        bracket = "(" if open_low else "["
        raise CapExceeded(
            f"{at} must be a number in {bracket}{low:g}, {high:g}]", cap=name, limit=high
        )


def _refuse(what: str, cap: str, caps: Caps, *, low: int | None = None) -> None:
    limit = getattr(caps, cap)
    allowed = f"between {low} and {limit}" if low is not None else f"at most {limit}"
    raise CapExceeded(f"{what}; the trainer allows {allowed} ({cap_setting(cap)})", cap=cap,
                      limit=limit)  # fmt: skip


def _is_whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    try:
        return math.isfinite(float(value))
    except OverflowError:  # an int too large for a float
        return False


def _shown(number: int) -> str:
    """A number as a client may see it again: exact if short, else its order of magnitude."""
    if abs(number) < 10**12:
        return str(number)
    # Not str(): Python refuses to print ints of more than 4300 digits.
    return f"a number of about {int(abs(number).bit_length() * math.log10(2)) + 1} digits"
