"""Registries of named components, and plug-ins from other installed packages.

Every extensible kind of audiolens (models, datasets, tasks, input pipelines, stages, report
sections, optimisers, schedules, CLI commands) keeps its components in one :class:`Registry`:
a decorator registers a component under a name, and looking up an unknown name raises a
:class:`~audiolens.ParameterError` that lists the valid ones (the mmengine / timm pattern)::

    TASKS = Registry("task.type", builtins=("audiolens.training.tasks",))

    @TASKS.register("classification")
    class ClassificationPlugin: ...

    TASKS.get("classification")

**Built-in components** live in the packages named by ``builtins``: every module of those
packages is imported on the first lookup, so adding a component is adding a file.

**Plug-ins from other packages** are declared under the ``audiolens.plugins`` entry-point group
(:data:`PLUGIN_GROUP`); an entry point names a module (imported; its decorators register) or a
callable (called with no arguments). They are loaded once, on the first lookup in any registry,
so a lab adds its own model, dataset, task or stage without forking::

    # the lab's pyproject.toml
    [project.entry-points."audiolens.plugins"]
    mylab = "mylab.audiolens_plugin"
"""

from __future__ import annotations

import fnmatch
import importlib
import pkgutil
import warnings
from collections.abc import Callable, Iterator, Sequence
from importlib import metadata
from typing import Any, Generic, TypeVar

from audiolens._internal.errors import ParameterError, unknown_choice

__all__ = ["PLUGIN_GROUP", "Registry", "import_submodules", "load_plugins"]

T = TypeVar("T")

#: The entry-point group third-party packages declare their audiolens plug-ins under.
PLUGIN_GROUP = "audiolens.plugins"

_plugins_loaded = False
_loaded_plugins: list[str] = []


def load_plugins(*, force: bool = False) -> list[str]:
    """Load every plug-in declared under the ``audiolens.plugins`` entry-point group (once).

    Args:
        force: Look for plug-ins again (e.g. after installing one into a running process).

    Returns:
        The names of the entry points loaded so far.

    A plug-in that fails to import is reported with a warning naming it and its error; the
    other plug-ins and the built-in components still work.
    """
    global _plugins_loaded
    if _plugins_loaded and not force:
        return list(_loaded_plugins)
    _plugins_loaded = True
    for entry in metadata.entry_points(group=PLUGIN_GROUP):
        if entry.name in _loaded_plugins:
            continue
        try:
            obj = entry.load()
            if callable(obj):  # 'pkg.module:register' (a module itself is imported, not called)
                obj()
        except Exception as err:  # noqa: BLE001 - a broken plug-in must not break audiolens
            warnings.warn(
                f"audiolens plug-in {entry.name!r} ({entry.value}) failed to load: {type(err).__name__}: {err}",
                stacklevel=2,
            )
            continue
        _loaded_plugins.append(entry.name)
    return list(_loaded_plugins)


def import_submodules(package: str) -> None:
    """Import ``package`` and every module directly inside it (its decorators register components)."""
    module = importlib.import_module(package)
    for info in pkgutil.iter_modules(getattr(module, "__path__", [])):
        if not info.name.startswith("_"):
            importlib.import_module(f"{package}.{info.name}")


class Registry(Generic[T]):
    """Named components of one kind, filled by decorators, built-in packages and plug-ins.

    Args:
        kind: What is registered, as the user names it in messages (``"model"``,
            ``"task.type"``, ``"features.type"``, ``"stage"``).
        builtins: Packages whose modules hold the built-in components (imported on first use).

    Attributes:
        version: Incremented by every registration (lets callers cache what they derive).
    """

    def __init__(self, kind: str, *, builtins: Sequence[str] = ()) -> None:
        self.kind = kind
        self.builtins = tuple(builtins)
        self.version = 0
        self._items: dict[str, T] = {}
        self._meta: dict[str, dict[str, Any]] = {}
        self._ready = False
        self._loading = False

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, {len(self._items)} entries)"

    # ------------------------------------------------------------------ registration
    def register(self, name: str | None = None, **meta: Any) -> Callable[[T], T]:
        """Decorator: register the decorated object under ``name`` (default: its ``__name__``).

        Args:
            name: Registry name.
            **meta: Metadata kept beside the entry (see :meth:`meta`).

        Raises:
            ParameterError: Another object is already registered under the name.
        """

        def decorator(obj: T) -> T:
            self.add(name or obj.__name__, obj, **meta)  # type: ignore[attr-defined]
            return obj

        return decorator

    def register_class(self, name: str, **meta: Any) -> Callable[[T], T]:
        """Class decorator: set the class's ``name`` attribute to ``name`` and register it under it.

        For plug-in classes that know their own registry name (tasks, stages, commands).
        """

        def decorator(cls: T) -> T:
            cls.name = name  # type: ignore[attr-defined]
            return self.add(name, cls, **meta)

        return decorator

    def add(self, name: str, obj: T, **meta: Any) -> T:
        """Register ``obj`` under ``name`` (see :meth:`register`).

        Re-registering the same definition (same module and qualified name, e.g. after a
        module reload or a second import of a test file) replaces the old entry.

        Raises:
            ParameterError: A different object is already registered under ``name``.
        """
        old = self._items.get(name)
        if old is not None and _origin(old) != _origin(obj):
            raise ParameterError(
                f"{self.kind} {name!r} is already registered by {'.'.join(_origin(old))}; "
                f"choose another name for {'.'.join(_origin(obj))}"
            )
        self._items[name] = obj
        self._meta[name] = dict(meta)
        self.version += 1
        return obj

    def remove(self, name: str) -> None:
        """Unregister ``name`` (a no-op when it is not registered)."""
        if self._items.pop(name, None) is not None:
            self._meta.pop(name, None)
            self.version += 1

    # ------------------------------------------------------------------ lookup
    def _ensure(self) -> None:
        if self._ready or self._loading:
            return
        self._loading = True
        try:
            for package in self.builtins:
                import_submodules(package)
            load_plugins()
        finally:
            self._loading = False
        self._ready = True

    def get(self, name: str) -> T:
        """The object registered under ``name``.

        Raises:
            ParameterError: Unknown ``name``; the message lists the valid names.
        """
        self._ensure()
        try:
            return self._items[name]
        except (KeyError, TypeError):
            raise unknown_choice(self.kind, name, self._items) from None

    def meta(self, name: str) -> dict[str, Any]:
        """A copy of the metadata registered with ``name``.

        Raises:
            ParameterError: Unknown ``name``.
        """
        self.get(name)
        return dict(self._meta[name])

    def names(self, filter: str = "") -> list[str]:
        """Registered names, sorted; ``filter`` is an optional :mod:`fnmatch` pattern."""
        self._ensure()
        return sorted(n for n in self._items if not filter or fnmatch.fnmatchcase(n, filter))

    def items(self) -> list[tuple[str, T]]:
        """``(name, object)`` pairs in registration order."""
        self._ensure()
        return list(self._items.items())

    def __contains__(self, name: object) -> bool:
        self._ensure()
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        self._ensure()
        return len(self._items)

    @property
    def state(self) -> int:
        """A number that changes whenever the set of entries may have changed (for caches)."""
        self._ensure()
        return self.version


def _origin(obj: Any) -> tuple[str, str]:
    return (getattr(obj, "__module__", "?") or "?", getattr(obj, "__qualname__", type(obj).__qualname__))
