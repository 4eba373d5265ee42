"""Registries, plug-ins from installed packages (entry points), optional dependencies."""

import os
import subprocess
import sys
import textwrap

import pytest

from audiolens import ParameterError
from audiolens._internal.optional import optional_import
from audiolens._internal.registry import Registry


def test_registry_register_lookup_and_errors():
    registry = Registry("widget")

    @registry.register("round", size=3)
    class Round:
        pass

    registry.add("square", object, size=4)
    assert registry.get("round") is Round and registry.meta("round") == {"size": 3}
    assert registry.names() == ["round", "square"] and registry.names("r*") == ["round"] and "round" in registry
    with pytest.raises(ParameterError, match="unknown widget 'oval'; valid choices: round, square"):
        registry.get("oval")
    registry.register("round")(Round)  # the same definition again (a reload): allowed
    with pytest.raises(ParameterError, match="widget 'round' is already registered by"):
        registry.add("round", int)
    version = registry.version
    registry.remove("square")
    assert registry.version > version and registry.names() == ["round"]


def test_optional_import_names_the_extra():
    assert optional_import("json", "none", "x").dumps([]) == "[]"
    with pytest.raises(
        ParameterError,
        match=r"--launcher ray needs the optional package 'no_such_module_xyz'.*pip install 'audiolens\[ray\]'",
    ):
        optional_import("no_such_module_xyz", "ray", "--launcher ray")


PLUGIN = """
import torch
from audiolens.engine.commands import Command, register_command
from audiolens.models import register_model


@register_model(default_cfg={"input_kind": "logmel"})
def lab_plugin_model(*, num_classes: int = 2, n_mels: int = 64):
    return torch.nn.Linear(n_mels, num_classes)


@register_command("lab-hello")
class Hello(Command):
    help = "a command from a lab's plug-in"

    def run(self, args):
        print("hello from the lab plug-in")
"""


@pytest.mark.slow
def test_a_plugin_package_installed_with_pip_extends_the_registries(tmp_path):
    package = tmp_path / "src"
    (package / "lab_audiolens_plugin").mkdir(parents=True)
    (package / "lab_audiolens_plugin" / "__init__.py").write_text(PLUGIN)
    (package / "pyproject.toml").write_text(
        textwrap.dedent(
            """
            [build-system]
            requires = ["setuptools>=61"]
            build-backend = "setuptools.build_meta"

            [project]
            name = "lab-audiolens-plugin"
            version = "0.1.0"

            [project.entry-points."audiolens.plugins"]
            lab = "lab_audiolens_plugin"

            [tool.setuptools]
            packages = ["lab_audiolens_plugin"]
            """
        )
    )
    target = tmp_path / "site"
    install = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation", "--no-index"]
    subprocess.run([*install, "--target", str(target), str(package)], check=True, capture_output=True)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(target), os.environ.get("PYTHONPATH", "")])}
    listing = subprocess.run(
        [sys.executable, "-m", "audiolens", "models", "list", "--filter", "lab_*"],
        env=env,
        capture_output=True,
        text=True,
    )
    assert listing.returncode == 0, listing.stderr
    assert listing.stdout.split() == ["lab_plugin_model", "lab_audiolens_plugin"]
    hello = subprocess.run([sys.executable, "-m", "audiolens", "lab-hello"], env=env, capture_output=True, text=True)
    assert hello.returncode == 0 and hello.stdout.strip() == "hello from the lab plug-in"
    without = subprocess.run(
        [sys.executable, "-m", "audiolens", "models", "list", "--filter", "lab_*"], capture_output=True, text=True
    )
    assert without.stdout == ""
