"""Argument checks shared by every layer (one wording for the same mistake)."""

from __future__ import annotations

import dataclasses
import math
from typing import TypeVar

from audiolens._internal.errors import ParameterError

_D = TypeVar("_D")


def positive_int(name: str, value: object, unit: str = "") -> int:
    """Return ``value`` if it is an ``int`` > 0 (``bool`` is refused).

    Args:
        name: Parameter name for the message, e.g. ``"n_fft"`` or ``"data.batch_size"``.
        value: The value to check.
        unit: Optional unit for the message, e.g. ``"Hz"``.

    Raises:
        ParameterError: Naming the parameter, for anything else.
    """
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        suffix = f" ({unit})" if unit else ""
        raise ParameterError(f"{name} must be a positive integer{suffix}, got {value!r}")
    return value


def probability(name: str, value: object) -> float:
    """Return ``value`` as a float if it is a number in ``[0, 1)`` (a dropout rate; ``bool`` is refused).

    Args:
        name: Parameter name for the message, e.g. ``"dropout"``.
        value: The value to check.

    Raises:
        ParameterError: Naming the parameter, for anything else.
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1:
        raise ParameterError(f"{name} must be a float in [0, 1), got {value!r}")
    return float(value)


def in_range(name: str, value: object, low: float, high: float) -> float:
    """Return ``value`` as a float if it is a number in ``[low, high]`` (``bool`` is refused).

    Raises:
        ParameterError: Naming the parameter and the range, for anything else.
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
        raise ParameterError(f"{name} must be a number in [{low}, {high}], got {value!r}")
    return float(value)


def ordered_pair(name: str, value: object, minimum: float = -math.inf) -> tuple[float, float]:
    """Return ``value`` as ``(low, high)`` floats if it is two numbers with ``minimum <= low <= high``.

    Raises:
        ParameterError: Naming the parameter, for anything else (one number, three, reversed, below ``minimum``).
    """
    if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)) or len(value) != 2:
        raise ParameterError(f"{name} must be a pair (low, high), got {value!r}")
    if any(isinstance(v, bool) or not isinstance(v, (int, float)) for v in value):
        raise ParameterError(f"{name} must be a pair of numbers (low, high), got {value!r}")
    low, high = float(value[0]), float(value[1])
    if not minimum <= low <= high:
        raise ParameterError(f"{name} must be (low, high) with {minimum} <= low <= high, got {value!r}")
    return low, high


def replace_fields(config: _D, what: str, **overrides: object) -> _D:
    """A copy of the dataclass ``config`` with ``overrides`` (its ``__post_init__`` checks run again).

    Args:
        config: A dataclass instance (a front-end configuration).
        what: What it configures, for the message (``"front-end"``, ``"MRMF"``).
        **overrides: Field values.

    Raises:
        ParameterError: An unknown field name (listing the valid ones), or what the checks raise.
    """
    valid = {f.name for f in dataclasses.fields(config)}
    unknown = sorted(set(overrides) - valid)
    if unknown:
        raise ParameterError(f"unknown {what} parameter(s) {unknown}; valid: {', '.join(sorted(valid))}")
    return dataclasses.replace(config, **overrides)
