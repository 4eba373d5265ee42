"""The one error family of audiolens.

Every error raised for bad user input is a :class:`ParameterError` (a bad argument or
config value) or a :class:`DataError` (a bad file, folder or sample). Both derive from
:class:`AudiolensError` and from :class:`ValueError`, so callers can catch either.
Messages name the parameter or file and say how to fix it.
"""

from __future__ import annotations

from collections.abc import Iterable


class AudiolensError(ValueError):
    """Base class of all audiolens errors raised for bad input."""


class ParameterError(AudiolensError):
    """A parameter or config value is invalid (wrong type, range, unknown name)."""


class DataError(AudiolensError):
    """A file, folder or data sample is missing, corrupt or malformed."""


def unknown_choice(kind: str, name: object, valid: Iterable[str]) -> ParameterError:
    """Build the error for an unknown name, listing the valid choices.

    Args:
        kind: What was looked up, e.g. ``"model"`` or ``"dataset"``.
        name: The name the user gave.
        valid: The names that would have been accepted.

    Returns:
        A :class:`ParameterError` whose message lists the valid choices.
    """
    choices = ", ".join(sorted(valid)) or "(none)"
    return ParameterError(f"unknown {kind} {name!r}; valid choices: {choices}")
