"""Model registry in the style of timm: ``@register_model`` entrypoints and ``create_model``.

A model family module (e.g. :mod:`audiolens.models.pann`) decorates one small factory
function per variant; the function name is the model name::

    @register_model(default_cfg={"sample_rate": 32000})
    def cnn14(*, num_classes: int = 527, n_mels: int = 64) -> Cnn14:
        return Cnn14(num_classes=num_classes, n_mels=n_mels)

    model = create_model("cnn14", num_classes=10)

The registry also keeps the family (module name, e.g. ``"pann"``) and an optional
``default_cfg`` dict (front-end settings, checkpoint names) of every model.

This module also holds :func:`check_logmel_input`, the input check shared by every
log-Mel model of :mod:`audiolens.models`.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, TypeVar, overload

import torch
from torch import nn

from audiolens._internal.errors import ParameterError
from audiolens._internal.registry import Registry

__all__ = [
    "CONVERTERS",
    "MODELS",
    "CheckpointFilter",
    "check_logmel_input",
    "create_model",
    "is_model",
    "LinearHead",
    "linear_head",
    "list_models",
    "list_modules",
    "model_default_cfg",
    "model_checkpoint_filter",
    "model_input_kinds",
    "model_entrypoint",
    "model_family",
    "register_converter",
    "register_model",
]

_F = TypeVar("_F", bound=Callable[..., nn.Module])

#: Every registered model factory; plug-ins of other packages (entry-point group
#: ``audiolens.plugins``) are loaded on the first lookup.
MODELS: Registry[Callable[..., nn.Module]] = Registry("model")

#: A per-model checkpoint filter: ``fn(state_dict, model) -> state_dict`` renames keys, drops
#: buffers the model does not have, or resamples tensors before ``load_state_dict`` (timm's
#: ``checkpoint_filter_fn``); see :func:`audiolens.models.load_init_checkpoint`. It may return
#: ``(state_dict, {key: note})`` to report what it adapted (a replaced key is then not missing).
CheckpointFilter = Callable[[dict[str, Any], nn.Module], Any]


@overload
def register_model(
    fn: _F, *, default_cfg: dict[str, Any] | None = None, checkpoint_filter_fn: CheckpointFilter | None = None
) -> _F: ...


@overload
def register_model(
    fn: None = None, *, default_cfg: dict[str, Any] | None = None, checkpoint_filter_fn: CheckpointFilter | None = None
) -> Callable[[_F], _F]: ...


def register_model(
    fn: _F | None = None,
    *,
    default_cfg: dict[str, Any] | None = None,
    checkpoint_filter_fn: CheckpointFilter | None = None,
) -> _F | Callable[[_F], _F]:
    """Register a model factory function under its own name.

    Usable bare (``@register_model``) or with a config (``@register_model(default_cfg=...)``).
    The family is the last component of the function's module (``audiolens.models.pann`` ->
    ``"pann"``). Re-registering the same function (e.g. after ``importlib.reload``) is allowed.

    Args:
        fn: The factory; it must accept keyword arguments only and return an ``nn.Module``.
        default_cfg: Optional metadata (``input_kind``: the input the model takes, ``"logmel"``,
            ``"waveform"``, ``"mrmf"`` or ``"graph"``, or a list of the kinds it accepts;
            front-end settings, checkpoint names) stored
            alongside the model and returned by :func:`model_default_cfg`.
        checkpoint_filter_fn: Optional ``fn(state_dict, model) -> state_dict`` applied to
            weights loaded with ``model.init_checkpoint`` (key renaming for official files).

    Returns:
        The function itself (unchanged), or a decorator when ``fn`` is omitted.

    Raises:
        ParameterError: If another function is already registered under the same name.
    """

    def _register(f: _F) -> _F:
        MODELS.add(
            f.__name__,
            f,
            family=f.__module__.rsplit(".", 1)[-1],
            default_cfg=dict(default_cfg or {}),
            checkpoint_filter_fn=checkpoint_filter_fn,
        )
        return f

    if fn is None:
        return _register
    return _register(fn)


#: Converters of official weight files into state dicts, by model name: ``fn(path) -> state_dict``
#: (``audiolens models convert NAME FILE --out OUT``).
CONVERTERS: Registry[Callable[[Any], dict[str, torch.Tensor]]] = Registry("weights converter")


def register_converter(name: str) -> Callable[[_F], _F]:
    """Register ``fn(path) -> state_dict``, converting an official weights file for model ``name``."""
    return CONVERTERS.register(name)


def list_models(filter: str = "", module: str = "") -> list[str]:
    """List registered model names, sorted.

    Args:
        filter: Shell-style wildcard pattern (:mod:`fnmatch`), e.g. ``"cnn*"``; empty = all.
        module: Only models of this family (e.g. ``"pann"``); empty = all families.

    Returns:
        Sorted model names.
    """
    return [n for n in MODELS.names(filter) if not module or MODELS.meta(n)["family"] == module]


def list_modules() -> list[str]:
    """List the model families (module names) that registered at least one model.

    Returns:
        Sorted family names, e.g. ``["pann", "small_cnn"]``.
    """
    return sorted({MODELS.meta(n)["family"] for n in MODELS.names()})


def is_model(name: str) -> bool:
    """Tell whether ``name`` is a registered model.

    Args:
        name: Model name.

    Returns:
        True if :func:`create_model` knows ``name``.
    """
    return isinstance(name, str) and name in MODELS


def model_entrypoint(name: str) -> Callable[..., nn.Module]:
    """Return the factory function registered under ``name``.

    Args:
        name: Model name.

    Returns:
        The registered factory.

    Raises:
        ParameterError: If ``name`` is not registered (the message lists the valid names).
    """
    return MODELS.get(name)


def model_family(name: str) -> str:
    """Return the family (defining module name) of a registered model.

    Args:
        name: Model name.

    Returns:
        The family, e.g. ``"pann"``.

    Raises:
        ParameterError: If ``name`` is not registered.
    """
    return MODELS.meta(name)["family"]


def model_default_cfg(name: str) -> dict[str, Any]:
    """Return a copy of the ``default_cfg`` dict a model was registered with.

    Args:
        name: Model name.

    Returns:
        The config (empty if none was given).

    Raises:
        ParameterError: If ``name`` is not registered.
    """
    return dict(MODELS.meta(name)["default_cfg"])


def model_input_kinds(name: str) -> tuple[str, ...]:
    """The input kinds model ``name`` accepts (its ``default_cfg["input_kind"]``, one or a list; ``()`` if undeclared).

    Raises:
        ParameterError: If ``name`` is not registered.
    """
    kind = MODELS.meta(name)["default_cfg"].get("input_kind")
    if kind is None:
        return ()
    return (kind,) if isinstance(kind, str) else tuple(kind)


def model_checkpoint_filter(name: str) -> CheckpointFilter | None:
    """Return the checkpoint filter registered with model ``name`` (``None`` when it has none).

    Raises:
        ParameterError: If ``name`` is not registered.
    """
    return MODELS.meta(name)["checkpoint_filter_fn"]


def _accepted_kwargs(fn: Callable[..., Any]) -> tuple[list[str], bool]:
    """Keyword names ``fn`` accepts, and whether it also takes ``**kwargs``."""
    params = inspect.signature(fn).parameters.values()
    names = [
        p.name for p in params if p.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    ]
    var_kw = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params)
    return names, var_kw


def model_accepts(name: str, key: str) -> bool:
    """Whether :func:`create_model` passes keyword argument ``key`` to model ``name``'s factory.

    Raises:
        ParameterError: If ``name`` is not registered.
    """
    accepted, var_kw = _accepted_kwargs(model_entrypoint(name))
    return key in accepted or var_kw


def create_model(name: str, num_classes: int | None = None, **kwargs: Any) -> nn.Module:
    """Build a registered model.

    Args:
        name: Model name (see :func:`list_models`).
        num_classes: Number of output logits; ``None`` keeps the model's default
            (e.g. 527 AudioSet classes for PANN).
        **kwargs: Other constructor keyword arguments of the model (e.g. ``n_mels``).

    Returns:
        The model, in training mode, with freshly initialised weights.

    Raises:
        ParameterError: If ``name`` is unknown (listing the valid names), or a keyword
            argument is unknown or invalid (naming the model and listing its accepted
            keyword arguments).
    """
    fn = model_entrypoint(name)
    if num_classes is not None:
        kwargs["num_classes"] = num_classes
    accepted, var_kw = _accepted_kwargs(fn)
    unknown = sorted(set(kwargs) - set(accepted))
    if unknown and not var_kw:
        raise ParameterError(
            f"model {name!r} got unexpected keyword argument(s) {', '.join(unknown)}; "
            f"accepted keyword arguments: {', '.join(accepted) or '(none)'}"
        )
    try:
        return fn(**kwargs)
    except TypeError as err:
        raise ParameterError(
            f"could not build model {name!r} with {kwargs!r}: {err}; "
            f"accepted keyword arguments: {', '.join(accepted) or '(none)'}"
        ) from err


def check_logmel_input(x: Any, *, n_mels: int, min_frames: int, model: str) -> None:
    """Check that ``x`` is a log-Mel batch a model can take.

    Args:
        x: The model input; expected shape ``(batch, n_mels, n_frames)``.
        n_mels: Mel bins the model expects.
        min_frames: Fewest frames the model can pool down (``2 ** number_of_pools``).
        model: Model (class) name, for the message.

    Raises:
        ParameterError: If ``x`` is not a floating 3-D tensor, its mel axis differs from
            ``n_mels`` or it has fewer than ``min_frames`` frames.
    """
    expected = f"{model} expected (batch, n_mels={n_mels}, n_frames) log-Mel"
    if not isinstance(x, torch.Tensor):
        raise ParameterError(f"{expected}, got {type(x).__name__}")
    if x.ndim != 3:
        hint = ""
        if x.ndim == 4 and x.shape[1] == 1:
            hint = " (drop the channel axis with x.squeeze(1))"
        elif x.ndim == 2:
            hint = " (add a batch axis with x.unsqueeze(0))"
        raise ParameterError(f"{expected}, got shape {tuple(x.shape)}{hint}")
    if x.shape[1] != n_mels:
        hint = ""
        if x.shape[2] == n_mels:
            hint = " (time and mel axes swapped? use x.transpose(1, 2))"
        raise ParameterError(f"{expected}, got shape {tuple(x.shape)}{hint}")
    if x.shape[2] < min_frames:
        raise ParameterError(
            f"{model} needs at least {min_frames} frames (one per 2x time pooling), "
            f"got shape {tuple(x.shape)}; pad the log-Mel along time"
        )
    if not torch.is_floating_point(x):
        raise ParameterError(f"{expected} as a floating tensor, got dtype {x.dtype}")


def linear_head(embed_dim: int, num_classes: int) -> nn.Module:
    """``Linear(embed_dim, num_classes)``, or ``nn.Identity`` for ``num_classes == 0`` (timm's "no head").

    Raises:
        ParameterError: A negative or non-integer ``num_classes``.
    """
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 0:
        raise ParameterError(f"num_classes must be an integer >= 0 (0: no head, the embedding), got {num_classes!r}")
    return nn.Linear(embed_dim, num_classes) if num_classes > 0 else nn.Identity()


class LinearHead:
    """Mixin of the uniform head interface for encoders whose ``classifier`` is :func:`linear_head`.

    The class sets ``embed_dim``, ``num_classes`` and ``classifier`` and defines
    ``forward_features``; the mixin adds ``forward_head``, ``forward``, ``get_classifier`` and
    ``reset_classifier`` (``num_classes == 0``: ``forward`` returns the embedding, as timm).
    """

    embed_dim: int
    num_classes: int
    classifier: nn.Module

    def forward_head(self, features: torch.Tensor) -> torch.Tensor:
        """Logits ``(batch, num_classes)`` of ``(batch, embed_dim)`` embeddings (themselves without classes)."""
        return self.classifier(features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits, or the embedding when ``num_classes == 0``."""
        return self.forward_head(self.forward_features(x))  # type: ignore[attr-defined]

    def get_classifier(self) -> nn.Module:
        """The classifier (``nn.Identity`` without classes)."""
        return self.classifier

    def reset_classifier(self, num_classes: int) -> None:
        """A fresh ``embed_dim -> num_classes`` classifier (0: none).

        Raises:
            ParameterError: A negative or non-integer ``num_classes``.
        """
        ref = next(self.parameters())  # type: ignore[attr-defined]
        self.classifier = linear_head(self.embed_dim, num_classes).to(ref.device, ref.dtype)
        self.num_classes = num_classes
