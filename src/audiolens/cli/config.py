"""The experiment schema: one YAML layout for every experiment.

Top-level sections (unknown keys anywhere are errors that list the valid ones):

- ``data``: dataset ``name`` and ``root`` (its own top folder; ``${AUDIOLENS_DATA}/fsdd``),
  ``sample_rate`` (default: the front-end's), ``test_folds`` / ``val_folds`` (lists; more than
  one test fold = k-fold cross-validation, one sub-run per fold), ``val_fraction``,
  ``test_fraction``, ``batch_size``, ``duration`` (s), ``num_workers``, ``kwargs``
  (dataset-specific, e.g. ``{subset: esc10}``).
- ``features``: front-end ``preset`` (``pann``, ``yamnet``, ``abt``) and any
  :class:`~audiolens.functional.FrontendConfig` field as an override.
- ``model``: registry ``name`` and ``kwargs``.
- ``task``: ``type`` (``classification`` of audio clips, or ``node_classification`` of a
  citation graph: ``data.name`` ``cora`` / ``citeseer`` / ``ogbn-arxiv``, full-batch),
  ``augment``, ``class_weights`` (``null``, ``balanced`` or a list), ``monitor``.
- ``optim``: ``lr``, ``weight_decay``, ``warmup_epochs``, ``betas``, ``min_lr_ratio``.
- ``trainer``: ``lightning.Trainer`` arguments (``max_epochs``, ``max_steps``, ``max_time``,
  ``accelerator``, ``devices``, ``strategy``, ...).
- ``seed``: integer.
- ``report``: ``html`` / ``plots`` switches.
- ``infoplane``: the information plane of the trained model (absent or ``null``: off; ``{}``:
  on with the defaults of :data:`INFOPLANE_DEFAULTS`): ``estimator`` (``kde`` or
  ``binning``), ``bounds`` and ``noise_variances`` (KDE), ``n_bins`` and ``bin_range``
  (binning), ``layers`` (``null``: the model's ``named_children``), ``tracked`` (sets of
  samples: ``all``, ``train``, ``val``, ``test``, ``train-forward``; ``null``: ``[all]`` for
  node classification, ``[val]`` for audio), ``every_n_epochs``, ``unit``,
  ``shuffled_baseline``, ``n_bootstrap``, ``dpi_tolerance`` (bits/nats a later layer may exceed
  an earlier one before the data-processing check lists the pair).
- ``sonify``, ``probe``: analysis sections reserved for the capabilities that follow
  (sonification, probing); giving one now is a clear error.

``--set a.b=value`` overrides any key (the value is parsed as YAML: ``[1,2]``, ``null``, ``3e-4``).
``${VAR}`` in strings expands environment variables; an unset variable is an error.
"""

from __future__ import annotations

import copy
import os
import re
from pathlib import Path
from typing import Any

import yaml

from audiolens._internal.errors import ParameterError
from audiolens.functional.presets import FrontendConfig

__all__ = ["DEFAULTS", "INFOPLANE_DEFAULTS", "apply_overrides", "load_config", "resolve_config"]

DEFAULTS: dict[str, Any] = {
    "data": {
        "name": None,
        "root": None,
        "sample_rate": None,
        "test_folds": None,
        "val_folds": None,
        "val_fraction": 0.1,
        "test_fraction": 0.2,
        "batch_size": 32,
        "duration": None,
        "num_workers": 0,
        "kwargs": {},
    },
    "features": {"preset": "pann"},
    "model": {"name": "small_cnn", "kwargs": {}},
    "task": {"type": "classification", "augment": {}, "class_weights": None, "monitor": "val_loss"},
    "optim": {"lr": 1e-3, "weight_decay": 1e-2, "warmup_epochs": 1, "betas": [0.9, 0.999], "min_lr_ratio": 0.01},
    "trainer": {"max_epochs": 10},
    "seed": 0,
    "report": {"html": True, "plots": True},
    "infoplane": None,
    "sonify": None,
    "probe": None,
}

#: The ``infoplane`` section's keys and defaults (the section itself defaults to off).
INFOPLANE_DEFAULTS: dict[str, Any] = {
    "estimator": "kde",
    "bounds": ["upper"],
    "noise_variances": [0.1],
    "n_bins": 30,
    "bin_range": None,
    "layers": None,
    "tracked": None,
    "every_n_epochs": 1,
    "unit": "bits",
    "shuffled_baseline": False,
    "n_bootstrap": 0,
    "dpi_tolerance": 0.01,
}

#: Sections whose inner keys are free-form here (validated by their consumer).
_FREEFORM = {("data", "kwargs"), ("model", "kwargs"), ("task", "augment"), ("trainer",)}
_FEATURE_KEYS = {"preset"} | set(FrontendConfig.__dataclass_fields__)
_RESERVED = ("sonify", "probe")
_TASKS = ("classification", "node_classification")


class _Loader(yaml.SafeLoader):
    """YAML 1.1 safe loader that also reads ``3e-4`` (no dot) as a float, as users expect."""


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789"),
)


def _yaml_load(text: str) -> Any:
    return yaml.load(text, Loader=_Loader)  # noqa: S506 - a SafeLoader subclass


def load_config(path: str | os.PathLike) -> dict[str, Any]:
    """Read an experiment YAML file (not yet merged with defaults).

    Raises:
        ParameterError: Missing file, invalid YAML, or a top level that is not a mapping.
    """
    path = Path(path)
    if not path.is_file():
        raise ParameterError(f"experiment file not found: {path}")
    try:
        config = _yaml_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ParameterError(f"{path} is not valid YAML: {exc}") from exc
    if not isinstance(config, dict):
        raise ParameterError(f"{path}: the top level must be a mapping of sections, got {type(config).__name__}")
    return config


def apply_overrides(config: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Apply ``--set a.b=value`` overrides (values parsed as YAML) to a copy of ``config``.

    Raises:
        ParameterError: An override without ``=`` or with an empty key.
    """
    config = copy.deepcopy(config)
    for item in overrides or []:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise ParameterError(f"--set expects key=value (e.g. trainer.max_epochs=5), got {item!r}")
        try:
            value = _yaml_load(raw) if raw.strip() else None
        except yaml.YAMLError as exc:
            raise ParameterError(f"--set {item!r}: cannot parse the value as YAML: {exc}") from exc
        node = config
        parts = key.strip().split(".")
        for part in parts[:-1]:
            if node.get(part) is None:
                node[part] = {}
            if not isinstance(node[part], dict):
                raise ParameterError(f"--set {item!r}: {part!r} is not a section")
            node = node[part]
        node[parts[-1]] = value
    return config


def _expand(value: Any, where: str) -> Any:
    if isinstance(value, str):
        for name in re.findall(r"\$\{(\w+)\}|\$(\w+)", value):
            var = name[0] or name[1]
            if var not in os.environ:
                raise ParameterError(
                    f"{where} = {value!r} uses ${{{var}}}, which is not set; export {var}=... "
                    "(e.g. AUDIOLENS_DATA=../shared/data) or give the path directly"
                )
        return os.path.expanduser(os.path.expandvars(value))
    if isinstance(value, dict):
        return {k: _expand(v, f"{where}.{k}") for k, v in value.items()}
    if isinstance(value, list):
        return [_expand(v, f"{where}[{i}]") for i, v in enumerate(value)]
    return value


def _merge(defaults: Any, given: Any, path: tuple[str, ...]) -> Any:
    if not isinstance(defaults, dict) or path in _FREEFORM:
        return copy.deepcopy(given)
    if given is None:
        return copy.deepcopy(defaults)
    name = ".".join(path) or "the experiment"
    if not isinstance(given, dict):
        raise ParameterError(f"{name} must be a mapping, got {given!r}")
    valid = _FEATURE_KEYS if path == ("features",) else set(defaults)
    unknown = sorted(set(given) - valid)
    if unknown:
        where = f"section {name!r}" if path else "the top level"
        raise ParameterError(f"unknown key(s) {unknown} in {where}; valid keys: {', '.join(sorted(valid))}")
    merged = copy.deepcopy(defaults)
    for key, value in given.items():
        merged[key] = _merge(defaults.get(key), value, (*path, key))
    return merged


def _int_list(value: Any, name: str) -> list[int] | None:
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        raise ParameterError(f"{name} must be a list of integers (e.g. [1] or [1,2,3,4,5]), got {value!r}")
    return value


def resolve_config(config: dict[str, Any]) -> dict[str, Any]:
    """Merge ``config`` with :data:`DEFAULTS`, validate it and expand environment variables.

    Returns:
        The resolved config (every key present), as written to ``RUN/config.yaml``.

    Raises:
        ParameterError: Unknown keys (listing the valid ones), missing ``data.name``, wrong
            types, unset environment variables, reserved analysis sections.
    """
    resolved = _merge(DEFAULTS, config, ())
    for section in _RESERVED:
        if resolved.get(section) is not None:
            raise ParameterError(
                f"section {section!r} is not available in this version of audiolens "
                "(it arrives with its capability); remove it from the experiment"
            )
    if resolved.get("infoplane") is not None:
        given = resolved["infoplane"]
        if given is True:
            given = {}
        resolved["infoplane"] = _merge(INFOPLANE_DEFAULTS, given, ("infoplane",))
    resolved = _expand(resolved, "config")
    data = resolved["data"]
    if not data["name"]:
        raise ParameterError("data.name is required (fsdd, esc50, urbansound8k, speech_commands, folder, synthetic)")
    data["test_folds"] = _int_list(data["test_folds"], "data.test_folds")
    data["val_folds"] = _int_list(data["val_folds"], "data.val_folds")
    if resolved["task"]["type"] not in _TASKS:
        raise ParameterError(f"task.type {resolved['task']['type']!r} is unknown; valid: {', '.join(_TASKS)}")
    if not isinstance(resolved["seed"], int) or isinstance(resolved["seed"], bool):
        raise ParameterError(f"seed must be an integer, got {resolved['seed']!r}")
    if not resolved["model"].get("name"):
        raise ParameterError("model.name is required (see `audiolens models list`)")
    return resolved
