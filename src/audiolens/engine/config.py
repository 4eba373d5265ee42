"""The experiment file: read, override, interpolate, validate; composed from the registered components.

An experiment YAML has the sections ``data``, ``features``, ``model``, ``task``, ``optim``,
``trainer``, ``seed`` and one section per registered stage that takes one (``evaluate``,
``report``, ``infoplane``, ...). Each section's schema and defaults live with the component
that owns it (:class:`~audiolens.training.DataConfig`, the ``features.type`` pipelines of
:data:`~audiolens.transforms.inputs.INPUTS`, :class:`~audiolens.models.ModelConfig`, the
``task.type`` plug-ins of :data:`~audiolens.training.TASKS`, :class:`~audiolens.training.OptimConfig`,
:class:`~audiolens.training.TrainerConfig`, the stages of :data:`~audiolens.engine.stages.STAGES`);
:func:`experiment_class` composes them into one pydantic model, so a new task, input pipeline
or stage extends the schema by registering itself.

How a file becomes an experiment (:func:`load_experiment`):

1. OmegaConf reads the YAML (``3e-4`` is a float).
2. ``--set a.b=value`` assigns values parsed as YAML (``[1,2]``, ``null``, ``{k: v}``) with
   OmegaConf; an assignment replaces the value (a mapping is not merged into the old one).
3. Interpolation: ``${VAR}`` with an upper-case name is the environment variable ``VAR``
   (OmegaConf's ``${oc.env:VAR}``; unset is an error); ``${a.b}`` is another key of the file.
4. The task's defaults fill ``optim`` and ``trainer`` under what the file gives (node
   classification: Adam at lr 0.01, 100 epochs), then pydantic validates every section
   (unknown keys, wrong types and out-of-range values are one-line
   :class:`~audiolens.ParameterError`s naming the key path and the valid keys or choices).
5. The input pipeline writes out every front-end value; the task and the enabled stages run
   their cheap checks (model and dataset names, the model's input kind).

:func:`experiment_dict` is the resolved experiment as written to ``RUN/config.yaml``;
resolving that file again gives the same experiment.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import yaml

from audiolens._internal.config import Config, tagged_union, validate
from audiolens._internal.errors import ParameterError

__all__ = [
    "TRAINING_SECTIONS",
    "apply_overrides",
    "changed_keys",
    "experiment_class",
    "experiment_dict",
    "json_schema",
    "load_experiment",
    "read_experiment_file",
    "resolve_experiment",
]

#: Sections whose change alters training (a ``--resume`` that changes them is refused), besides
#: the sections of training-time stages such as ``infoplane``.
TRAINING_SECTIONS = ("data", "features", "model", "task", "optim", "trainer", "seed")

#: Keys that change how training is shown or fed, not what it computes (``--resume`` may change them).
COSMETIC_KEYS = ("trainer.enable_progress_bar", "trainer.enable_model_summary", "data.num_workers")

_ENV = re.compile(r"\$\{([A-Z_][A-Z0-9_]*)\}")
_cache: dict[tuple, type[Config]] = {}


def _omegaconf():  # noqa: ANN202 - imported lazily (not needed by `audiolens --help`)
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    return OmegaConf, OmegaConfBaseException


def read_experiment_file(path: str | os.PathLike) -> dict[str, Any]:
    """Read an experiment YAML file (not yet interpolated or validated).

    Raises:
        ParameterError: Missing file, invalid YAML, or a top level that is not a mapping.
    """
    OmegaConf, OmegaConfBaseException = _omegaconf()
    path = Path(path)
    if not path.is_file():
        raise ParameterError(f"experiment file not found: {path}")
    try:
        cfg = OmegaConf.load(path)
    except yaml.YAMLError as exc:
        raise ParameterError(f"{path} is not valid YAML: {exc}") from None
    except OmegaConfBaseException as exc:
        raise ParameterError(f"{path}: {exc}") from None
    if not OmegaConf.is_dict(cfg):
        raise ParameterError(f"{path}: the top level must be a mapping of sections, got a {type(cfg).__name__}")
    return OmegaConf.to_container(cfg, resolve=False)


def apply_overrides(config: dict[str, Any], overrides: list[str] | None) -> dict[str, Any]:
    """Apply ``--set a.b=value`` overrides (values parsed as YAML) to a copy of ``config``.

    Raises:
        ParameterError: An override without ``=``, an empty key, or a key below a non-section.
    """
    OmegaConf, OmegaConfBaseException = _omegaconf()
    cfg = OmegaConf.create(config)
    for item in overrides or []:
        key, sep, _ = item.partition("=")
        key = key.strip()
        if not sep or not key or any(not part for part in key.split(".")):
            raise ParameterError(f"--set expects key=value (e.g. trainer.max_epochs=5), got {item!r}")
        parts = key.split(".")
        node: Any = config
        for depth, part in enumerate(parts[:-1]):
            node = node.get(part) if isinstance(node, dict) else None
            if node is not None and not isinstance(node, dict):
                raise ParameterError(f"--set {item!r}: {'.'.join(parts[: depth + 1])!r} is not a section")
        try:
            value = OmegaConf.to_container(OmegaConf.from_dotlist([f"{key}={item.partition('=')[2]}"]), resolve=False)
            for part in parts:  # the parsed value, interpolations (${VAR}, ${a.b}) left for interpolate()
                value = value[part]
            OmegaConf.update(cfg, key, value, merge=False)
        except (OmegaConfBaseException, yaml.YAMLError) as exc:
            raise ParameterError(f"--set {item!r}: {exc}") from None
        config = OmegaConf.to_container(cfg, resolve=False)
    return OmegaConf.to_container(cfg, resolve=False)


def _env_syntax(value: Any) -> Any:
    if isinstance(value, str):
        value = _ENV.sub(r"${oc.env:\1}", value)
        return os.path.expanduser(value) if value.startswith("~") else value
    if isinstance(value, dict):
        return {k: _env_syntax(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_env_syntax(v) for v in value]
    return value


def interpolate(config: dict[str, Any]) -> dict[str, Any]:
    """Resolve ``${VAR}`` (environment) and ``${a.b}`` (other keys) interpolations; expand ``~``.

    Raises:
        ParameterError: An unset environment variable or a missing key, naming where it is used.
    """
    OmegaConf, OmegaConfBaseException = _omegaconf()
    cfg = OmegaConf.create(_env_syntax(config))
    try:
        return OmegaConf.to_container(cfg, resolve=True)
    except OmegaConfBaseException as exc:
        where = getattr(exc, "full_key", None) or "the experiment"
        match = re.search(r"Environment variable '(\w+)' not found", str(exc))
        if match:
            var = match.group(1)
            raise ParameterError(
                f"{where} uses ${{{var}}}, which is not set; export {var}=... (e.g. AUDIOLENS_DATA=../shared/data) "
                "or give the path directly"
            ) from None
        raise ParameterError(f"{where}: {str(exc).splitlines()[0]}") from None


def _stage_sections() -> list[tuple[str, Any, Any]]:
    from audiolens.engine.stages import STAGES

    sections = []
    for _, stage in STAGES.items():
        if stage.section is not None:
            sections.append((stage.section, stage.schema, stage.default))
    return sections


def experiment_class() -> type[Config]:
    """The pydantic model of an experiment, composed from the registered components (cached).

    Fields: ``data``, ``features`` (a tagged union of the input pipelines, or ``None`` for tasks
    without features), ``model``, ``task`` (a tagged union of the task plug-ins' sections),
    ``optim``, ``trainer``, ``checkpoint``, ``seed`` and every registered stage's section.
    """
    from pydantic import Field, create_model

    from audiolens.engine.stages import STAGES
    from audiolens.models import ModelConfig
    from audiolens.training import TASKS, CheckpointConfig, DataConfig, OptimConfig, TrainerConfig
    from audiolens.transforms.inputs import INPUTS

    key = (TASKS.state, INPUTS.state, STAGES.state)
    if key in _cache:
        return _cache[key]
    tasks = {name: plugin.config for name, plugin in TASKS.items()}
    inputs = dict(INPUTS.items())
    first_task = "classification" if "classification" in tasks else next(iter(tasks))
    fields: dict[str, Any] = {
        "data": (DataConfig, ...),
        "features": (tagged_union(inputs, default="logmel") | None, None),
        "model": (ModelConfig, Field(default_factory=ModelConfig)),
        "task": (tagged_union(tasks, default=first_task), Field(default_factory=tasks[first_task])),
        "optim": (OptimConfig, Field(default_factory=OptimConfig)),
        "trainer": (TrainerConfig, Field(default_factory=TrainerConfig)),
        "checkpoint": (CheckpointConfig, Field(default_factory=CheckpointConfig)),
        "seed": (int, 0),
    }
    for section, schema, default in _stage_sections():
        if section in fields:
            raise ParameterError(f"stage section {section!r} clashes with a core section of the experiment")
        factory = default if callable(default) else None
        fields[section] = (schema, Field(default_factory=factory) if factory else default)
    cls = create_model("Experiment", __base__=Config, **fields)
    _cache.clear()
    _cache[key] = cls
    return cls


def _with_defaults(defaults: dict[str, Any], given: Any) -> Any:
    if given is None:
        return dict(defaults)
    if isinstance(given, dict):
        return {**defaults, **given}
    return given  # validation names the wrong type


def resolve_experiment(config: dict[str, Any]) -> Any:
    """Validate an interpolated experiment dict (steps 4-5 of the module doc).

    Returns:
        The experiment (an instance of :func:`experiment_class`).

    Raises:
        ParameterError: Unknown keys or choices, wrong types or values, failed cheap checks.
    """
    from audiolens.engine.stages import STAGES
    from audiolens.training import TASKS

    if not isinstance(config, dict):
        raise ParameterError(f"the experiment must be a mapping of sections, got {type(config).__name__}")
    config = dict(config)
    task = config.get("task")
    if task is not None and not isinstance(task, dict):
        raise ParameterError(f"task must be a mapping, got {task!r}")
    plugin = TASKS.get((task or {}).get("type", "classification"))
    config["optim"] = _with_defaults(plugin.optim_defaults, config.get("optim"))
    config["trainer"] = _with_defaults(plugin.trainer_defaults, config.get("trainer"))
    if plugin.uses_features:
        config["features"] = config.get("features") or {}
    elif config.get("features"):
        raise ParameterError(f"features do not apply to task.type {plugin.name!r}; remove the features section")
    else:
        config.pop("features", None)
    exp = validate(experiment_class(), config)
    if exp.features is not None:
        exp = exp.model_copy(update={"features": exp.features.resolve(exp.data.sample_rate)})
    plugin().check(exp)
    for _, stage in STAGES.items():
        if stage().enabled(exp):
            stage().check(exp)
    return exp


def load_experiment(path: str | os.PathLike, overrides: list[str] | None = None) -> Any:
    """Read, override, interpolate and validate an experiment file (see the module doc).

    Raises:
        ParameterError: Any problem with the file or an override, naming the key path.
    """
    return resolve_experiment(interpolate(apply_overrides(read_experiment_file(path), overrides)))


def experiment_dict(exp: Any) -> dict[str, Any]:
    """The resolved experiment as a plain dict (``RUN/config.yaml``), every default included."""
    return exp.model_dump(mode="json")


def changed_keys(old: Any, new: Any, prefix: str = "") -> list[str]:
    """Dotted key paths whose values differ between two experiment dicts (leaves, sorted)."""
    if isinstance(old, dict) and isinstance(new, dict):
        keys = []
        for key in sorted(set(old) | set(new)):
            path = f"{prefix}.{key}" if prefix else str(key)
            if key not in old or key not in new:
                keys.append(path)
            else:
                keys.extend(changed_keys(old[key], new[key], path))
        return keys
    return [] if old == new else [prefix or "(the experiment)"]


def json_schema() -> dict[str, Any]:
    """A JSON Schema of the experiment file (for editor completion), from the registered components."""
    schema = experiment_class().model_json_schema()
    schema["title"] = "audiolens experiment"
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return schema
