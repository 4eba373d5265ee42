"""Optional dependencies: one helper imports them and names the extra that installs them.

Extras are declared in ``pyproject.toml`` (``[project.optional-dependencies]``); ``make test``
installs every extra the tests need.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from audiolens._internal.errors import ParameterError

__all__ = ["optional_import"]


def optional_import(module: str, extra: str, purpose: str) -> ModuleType:
    """Import an optional dependency.

    Args:
        module: Module to import, e.g. ``"ray"``.
        extra: The audiolens extra that installs it, e.g. ``"ray"``.
        purpose: What needs it, for the message, e.g. ``"--launcher ray"``.

    Returns:
        The imported module.

    Raises:
        ParameterError: The module is not installed; the message gives the ``pip install``
            command of the extra.
    """
    try:
        return importlib.import_module(module)
    except ImportError as err:
        raise ParameterError(
            f"{purpose} needs the optional package {module!r}, which is not installed "
            f"({type(err).__name__}: {err}); install it with: pip install 'audiolens[{extra}]'"
        ) from None
