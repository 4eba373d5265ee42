"""Public API documentation: every public module renders with pydoc, every exported name is documented."""

import importlib
import inspect
import pkgutil
import pydoc

import pytest

import audiolens

MODULES = sorted(
    m.name
    for m in pkgutil.walk_packages(audiolens.__path__, "audiolens.")
    if not any(part.startswith("_") for part in m.name.split(".")[1:]) and not m.name.endswith("__main__")
)


def test_the_walk_finds_the_layers():
    for layer in ("io", "functional", "transforms", "datasets", "models", "interpret", "training", "report", "engine"):
        assert f"audiolens.{layer}" in MODULES


@pytest.mark.parametrize("name", MODULES)
def test_module_renders_with_pydoc_and_documents_its_exports(name):
    module = importlib.import_module(name)
    text = pydoc.render_doc(module, renderer=pydoc.plaintext)
    assert module.__doc__ and module.__doc__.strip(), f"{name} has no module docstring"
    assert module.__doc__.strip().splitlines()[0] in text  # the docstring is what pydoc shows
    undocumented = []
    for export in getattr(module, "__all__", []):
        obj = getattr(module, export)
        if (inspect.isclass(obj) or inspect.isfunction(obj)) and not inspect.getdoc(obj):
            undocumented.append(export)
    assert not undocumented, f"{name} exports undocumented names: {undocumented}"
