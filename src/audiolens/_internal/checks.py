"""Argument checks shared by every layer (one wording for the same mistake)."""

from __future__ import annotations

from audiolens._internal.errors import ParameterError


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
