"""The ``model`` section: build a registered model, start from given weights, freeze parts of it.

- :class:`ModelConfig`: ``name``, ``kwargs``, ``init_checkpoint``, ``init_strict``, ``freeze``.
- :func:`load_init_checkpoint`: load weights from one of three file layouts (an audiolens /
  Lightning ``.ckpt``, a raw ``state_dict``, or ``{"model": state_dict, ...}`` as the official
  PANN files on Zenodo), pass them through the model's registered checkpoint filter (timm's
  ``checkpoint_filter_fn``: key renaming for official files, dropped front-end buffers), and
  report every missing, unexpected and shape-mismatched key. Strict loading refuses any of
  them; non-strict loading loads what matches (e.g. a new classifier for other classes) and
  reports the rest.
- :func:`freeze`: ``requires_grad = False`` for parameters matching module-name patterns
  (``fnmatch``; a leading ``!`` un-freezes, later patterns win), and frozen normalisation layers
  keep their running statistics (they stay in eval mode during training), so frozen parts are
  unchanged bit for bit.
- :func:`split_output`: the one contract for auxiliary losses. A model's ``forward`` returns
  logits, or a pair ``(logits, {name: scalar loss})``; tasks weight the named terms with
  ``task.loss_weights`` and add them to their loss.
"""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from audiolens._internal.config import Config
from audiolens._internal.errors import DataError, ParameterError
from audiolens.io import load_torch_file
from audiolens.models._registry import model_checkpoint_filter

__all__ = ["InitReport", "ModelConfig", "freeze", "load_init_checkpoint", "read_state_dict", "split_output"]


class ModelConfig(Config):
    """The ``model`` section of an experiment.

    Attributes:
        name: Registry name (``audiolens models list``).
        kwargs: Constructor keyword arguments of the model (``num_classes`` comes from the data).
        init_checkpoint: Initial weights: an audiolens ``.ckpt``, a raw ``state_dict`` file, or
            a ``{"model": state_dict}`` file (official PANN checkpoints). ``None``: random init.
        init_strict: Refuse missing, unexpected or shape-mismatched keys. With ``false``, the
            matching weights are loaded and every other key is reported (e.g. a classifier for
            other classes stays freshly initialised).
        freeze: Module or parameter name patterns (``fnmatch``) whose parameters are not
            trained; ``"!pattern"`` un-freezes, later patterns win. ``["*", "!classifier*"]``
            trains the classifier only (linear-probe-style fine-tuning).
    """

    name: str = "small_cnn"
    kwargs: dict[str, Any] = {}
    init_checkpoint: str | None = None
    init_strict: bool = True
    freeze: list[str] = []


@dataclass
class InitReport:
    """What :func:`load_init_checkpoint` loaded and what it did not.

    Attributes:
        path: The checkpoint file.
        layout: ``"audiolens"`` (a ``.ckpt`` of ours or Lightning's), ``"model"`` (``{"model":
            state_dict}``) or ``"state_dict"``.
        loaded: Keys loaded.
        missing: Model keys the file lacks (left as initialised).
        unexpected: File keys the model lacks (ignored).
        mismatched: ``{key: (file shape, model shape)}`` (left as initialised).
        adapted: ``{key: what the model's checkpoint filter did}`` (a classifier replaced, a
            patch embedding interpolated...); a replaced key is not counted as missing.
    """

    path: str
    layout: str
    loaded: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    mismatched: dict[str, tuple[list[int], list[int]]] = field(default_factory=dict)
    adapted: dict[str, str] = field(default_factory=dict)

    @property
    def clean(self) -> bool:
        """Every key matched."""
        return not (self.missing or self.unexpected or self.mismatched)

    def describe(self, limit: int = 8) -> str:
        """One line listing the missing, unexpected and mismatched keys (``limit`` of each)."""
        parts = []
        for what, keys in (("missing", self.missing), ("unexpected", self.unexpected)):
            if keys:
                more = f" (+{len(keys) - limit} more)" if len(keys) > limit else ""
                parts.append(f"{len(keys)} {what} key(s): {', '.join(keys[:limit])}{more}")
        if self.mismatched:
            items = list(self.mismatched.items())
            shown = ", ".join(f"{k} {tuple(a)} in the file vs {tuple(b)} in the model" for k, (a, b) in items[:limit])
            more = f" (+{len(items) - limit} more)" if len(items) > limit else ""
            parts.append(f"{len(items)} shape-mismatched key(s): {shown}{more}")
        if self.adapted:
            items = list(self.adapted.items())
            more = f" (+{len(items) - limit} more)" if len(items) > limit else ""
            parts.append(f"{len(items)} adapted key(s): " + ", ".join(f"{k} {v}" for k, v in items[:limit]) + more)
        return "; ".join(parts) or "every key matched"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary (``init_checkpoint.json`` in the run folder)."""
        return {
            "path": self.path,
            "layout": self.layout,
            "n_loaded": len(self.loaded),
            "missing": self.missing,
            "unexpected": self.unexpected,
            "mismatched": {k: {"file": a, "model": b} for k, (a, b) in self.mismatched.items()},
            "adapted": self.adapted,
        }


def read_state_dict(
    path: str | os.PathLike, what: str = "model.init_checkpoint"
) -> tuple[dict[str, torch.Tensor], str]:
    """Read a weights file in one of the three layouts :class:`ModelConfig` accepts.

    Checkpoint files are pickles: load only files you trust.

    ``what``: the config key that named ``path`` (in error messages).

    Returns:
        ``(state_dict, layout)``; for an audiolens ``.ckpt`` the task's ``model.`` prefix is
        removed, so the keys are the model's own.

    Raises:
        DataError: Missing or unreadable file, or a file in none of the three layouts.
    """
    path = Path(path).expanduser()
    obj = load_torch_file(path, what)
    if isinstance(obj, Mapping) and isinstance(obj.get("state_dict"), Mapping):
        state = obj["state_dict"]
        inner = {k[len("model.") :]: v for k, v in state.items() if k.startswith("model.")}
        return (inner or dict(state)), "audiolens"
    if isinstance(obj, Mapping) and isinstance(obj.get("model"), Mapping) and _tensors(obj["model"]):
        return dict(obj["model"]), "model"
    if isinstance(obj, Mapping) and _tensors(obj):
        return dict(obj), "state_dict"
    raise DataError(
        f"{what}: {path} is not a weights file audiolens reads; expected an audiolens .ckpt, "
        "a state_dict (a mapping of parameter names to tensors) or {'model': state_dict}"
    )


def _tensors(mapping: Mapping) -> bool:
    return bool(mapping) and all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in mapping.items())


def load_init_checkpoint(
    model: nn.Module,
    path: str | os.PathLike,
    *,
    strict: bool = True,
    model_name: str | None = None,
    what: str = "model.init_checkpoint",
    fix: str = "set model.init_strict: false to load only the matching keys",
) -> InitReport:
    """Load initial weights into ``model`` (see the module doc).

    Args:
        model: The freshly built model.
        path: Weights file (three layouts, see :func:`read_state_dict`).
        strict: Refuse any missing, unexpected or shape-mismatched key.
        model_name: Registry name of ``model``; its checkpoint filter (if any) runs first.
        what: The config key that named ``path`` (in error messages).
        fix: What the user can do about a strict mismatch besides fixing the file (in messages).

    Returns:
        The :class:`InitReport`.

    Raises:
        DataError: Unreadable file (see :func:`read_state_dict`).
        ParameterError: ``strict`` and some key did not match; the message lists them.
    """
    state, layout = read_state_dict(path, what)
    filter_fn = model_checkpoint_filter(model_name) if model_name else None
    adapted: dict[str, str] = {}
    if filter_fn is not None:
        state = filter_fn(state, model)
        if isinstance(state, tuple):
            state, adapted = state[0], dict(state[1])
    own = model.state_dict()
    report = InitReport(str(path), layout, adapted=adapted)
    for key, value in state.items():
        if key not in own:
            report.unexpected.append(key)
        elif tuple(value.shape) != tuple(own[key].shape):
            report.mismatched[key] = (list(value.shape), list(own[key].shape))
        else:
            report.loaded.append(key)
    report.missing = [k for k in own if k not in state and k not in adapted]
    if strict and not report.clean:
        raise ParameterError(
            f"{what} {path} does not match model {model_name or type(model).__name__}: "
            f"{report.describe()}; fix the file, or {fix}"
        )
    if not report.loaded:
        raise ParameterError(
            f"{what} {path}: no key matches model {model_name or type(model).__name__} "
            f"({report.describe()}); is it a checkpoint of another architecture?"
        )
    model.load_state_dict({k: state[k] for k in report.loaded}, strict=False)
    return report


def freeze(model: nn.Module, patterns: Sequence[str]) -> list[str]:
    """Freeze the parameters of ``model`` that match ``patterns`` (see the module doc).

    A pattern matches a parameter when it matches the parameter's name or the name of a module
    containing it (``"stages.0"`` freezes ``stages.0.convs.0.weight``; ``"*"`` everything).
    Normalisation layers whose parameters are all frozen are kept in eval mode during training
    (a forward pre-hook), so their running statistics do not change either.

    Returns:
        Names of the frozen parameters.

    Raises:
        ParameterError: A pattern that matches no parameter (the message lists the model's
            top-level modules).
    """
    names = [name for name, _ in model.named_parameters()]
    frozen = dict.fromkeys(names, False)
    for pattern in patterns:
        negate = pattern.startswith("!")
        glob = pattern[1:] if negate else pattern
        hits = [n for n in names if _matches(n, glob)]
        if not hits:
            top = sorted({n.split(".", 1)[0] for n in names})
            raise ParameterError(
                f"model.freeze pattern {pattern!r} matches no parameter; the model's modules are {', '.join(top)} "
                "(patterns are fnmatch globs on module or parameter names, e.g. 'stages.*' or '!classifier*')"
            )
        for name in hits:
            frozen[name] = not negate
    params = dict(model.named_parameters())
    for name, is_frozen in frozen.items():
        params[name].requires_grad_(not is_frozen)
    for module in model.modules():
        if isinstance(module, nn.modules.batchnorm._NormBase) and module.track_running_stats:
            own = list(module.parameters(recurse=False))
            if own and not any(p.requires_grad for p in own):
                module.register_forward_pre_hook(_keep_eval)
    return [n for n, f in frozen.items() if f]


def _keep_eval(module: nn.Module, args: Any) -> None:
    module.training = False


def _matches(name: str, pattern: str) -> bool:
    parts = name.split(".")
    return any(fnmatch.fnmatchcase(".".join(parts[:k]), pattern) for k in range(1, len(parts) + 1))


def split_output(output: Any) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Split a model's ``forward`` output into ``(logits, auxiliary losses)``.

    The contract: ``forward`` returns logits, or ``(logits, {name: scalar loss tensor})``
    (e.g. CAT's ``{"reconstruction": ..., "causal": ...}``). Tasks add
    ``task.loss_weights[name] * loss`` for every named term.

    Raises:
        ParameterError: Any other output structure.
    """
    if isinstance(output, torch.Tensor):
        return output, {}
    if (
        isinstance(output, (tuple, list))
        and len(output) == 2
        and isinstance(output[0], torch.Tensor)
        and isinstance(output[1], Mapping)
        and all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in output[1].items())
    ):
        return output[0], dict(output[1])
    raise ParameterError(
        f"a model's forward must return logits or (logits, {{name: scalar loss}}); got {type(output).__name__}"
    )
