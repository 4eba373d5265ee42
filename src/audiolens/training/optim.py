"""The ``optim`` section: optimisers and learning-rate schedules, chosen by name.

- :class:`OptimConfig`: ``name`` (:data:`OPTIMIZERS`: ``adamw`` default, ``adam``, ``sgd``,
  ``lars``), ``lr``, ``weight_decay``, ``betas`` (Adam family), ``momentum`` / ``nesterov`` (SGD;
  ``momentum`` also LARS), ``bias_lr_ratio`` / ``trust_coefficient`` (LARS),
  ``schedule`` (:data:`SCHEDULES`: ``warmup_cosine`` default, ``constant``), ``warmup_epochs``,
  ``min_lr_ratio``. A task may declare other defaults (node classification: Adam with L2
  weight decay, lr 0.01, constant rate); the experiment's ``optim`` section overrides them.
- :func:`configure_optimizers`: Lightning's optimiser config for the trainable parameters.

Register more with ``@OPTIMIZERS.register("name")`` (``fn(parameters, config) -> Optimizer``)
and ``@SCHEDULES.register("name")`` (``fn(optimizer, trainer, config) -> LRScheduler`` stepped
per batch).

- :class:`LARS`: layer-wise adaptive rate scaling as the Barlow Twins reference
  (facebookresearch/barlowtwins ``main.py``) and ABT (jonahanton/SSL_audio) implement it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Annotated, Any

import lightning as L
import torch
from pydantic import Field, field_validator

from audiolens._internal.config import Config, NonNegativeFloat, PositiveFloat
from audiolens._internal.errors import ParameterError, unknown_choice
from audiolens._internal.registry import Registry

__all__ = [
    "LARS",
    "OPTIMIZERS",
    "SCHEDULES",
    "OptimConfig",
    "configure_optimizers",
    "lars_groups",
    "warmup_cosine_schedule",
]

#: Optimisers by ``optim.name``: ``fn(parameters, config) -> torch.optim.Optimizer``.
OPTIMIZERS: Registry[Callable[[Iterable[torch.nn.Parameter], OptimConfig], torch.optim.Optimizer]] = Registry(
    "optim.name"
)
#: Learning-rate schedules by ``optim.schedule``: ``fn(optimizer, trainer, config) -> LRScheduler`` (per step).
SCHEDULES: Registry[Callable[[torch.optim.Optimizer, L.Trainer, OptimConfig], Any]] = Registry("optim.schedule")

Beta = Annotated[float, Field(ge=0, lt=1)]


class OptimConfig(Config):
    """The ``optim`` section of an experiment.

    Attributes:
        name: Optimiser (:data:`OPTIMIZERS`): ``adamw`` (decoupled weight decay), ``adam`` (L2
            weight decay added to the gradient, as Kipf & Welling's GCN), ``sgd``.
        lr: Peak learning rate.
        weight_decay: Weight decay (decoupled for AdamW, L2 for Adam and SGD).
        betas: Adam's ``(beta1, beta2)``.
        momentum: SGD momentum.
        nesterov: SGD Nesterov momentum.
        bias_lr_ratio: LARS: learning rate of the biases and normalisation parameters (every
            1-D parameter) relative to ``lr`` (ABT: 0.0048 / 0.4 = 0.012).
        trust_coefficient: LARS's ``eta`` (0.001).
        schedule: Learning-rate schedule (:data:`SCHEDULES`): ``warmup_cosine`` (linear warm-up
            over ``warmup_epochs``, then cosine decay to ``min_lr_ratio * lr``, per step) or
            ``constant``.
        warmup_epochs: Warm-up length in epochs (may be fractional).
        min_lr_ratio: Cosine floor as a fraction of ``lr`` (1: constant after warm-up).
    """

    name: str = "adamw"
    lr: PositiveFloat = 1e-3
    weight_decay: NonNegativeFloat = 1e-2
    betas: Annotated[list[Beta], Field(min_length=2, max_length=2)] = [0.9, 0.999]
    momentum: Beta = 0.9
    nesterov: bool = False
    bias_lr_ratio: PositiveFloat = 0.012
    trust_coefficient: PositiveFloat = 0.001
    schedule: str = "warmup_cosine"
    warmup_epochs: NonNegativeFloat = 1.0
    min_lr_ratio: Annotated[float, Field(ge=0, le=1)] = 0.01

    @field_validator("name")
    @classmethod
    def _known_optimizer(cls, value: str) -> str:
        if value not in OPTIMIZERS:
            raise unknown_choice("optim.name", value, OPTIMIZERS.names())
        return value

    @field_validator("schedule")
    @classmethod
    def _known_schedule(cls, value: str) -> str:
        if value not in SCHEDULES:
            raise unknown_choice("optim.schedule", value, SCHEDULES.names())
        return value


@OPTIMIZERS.register("adamw")
def _adamw(parameters: Iterable[torch.nn.Parameter], config: OptimConfig) -> torch.optim.Optimizer:
    return torch.optim.AdamW(parameters, lr=config.lr, weight_decay=config.weight_decay, betas=tuple(config.betas))


@OPTIMIZERS.register("adam")
def _adam(parameters: Iterable[torch.nn.Parameter], config: OptimConfig) -> torch.optim.Optimizer:
    return torch.optim.Adam(parameters, lr=config.lr, weight_decay=config.weight_decay, betas=tuple(config.betas))


@OPTIMIZERS.register("sgd")
def _sgd(parameters: Iterable[torch.nn.Parameter], config: OptimConfig) -> torch.optim.Optimizer:
    return torch.optim.SGD(
        parameters, lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay, nesterov=config.nesterov
    )


class LARS(torch.optim.Optimizer):
    """LARS (You et al. 2017) as the Barlow Twins reference code implements it (ABT's ``LARS``).

    Per parameter, in order: ``g = grad + weight_decay * p``; the trust ratio
    ``q = eta ||p|| / ||g||`` (1 when either norm is 0) scales ``g``; momentum
    ``mu = momentum * mu + g``; ``p -= lr * mu``. Parameter groups with ``exclude=True`` (the
    1-D parameters: biases and normalisation, see :func:`lars_groups`) skip both the weight decay
    and the trust ratio.

    Args:
        params: Parameters or groups (``{"params", "lr", "exclude"}``).
        lr: Learning rate.
        weight_decay: L2 weight decay added to the gradient.
        momentum: Momentum.
        eta: Trust coefficient.
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float,
        weight_decay: float = 0.0,
        momentum: float = 0.9,
        eta: float = 0.001,
    ) -> None:
        defaults = {"lr": lr, "weight_decay": weight_decay, "momentum": momentum, "eta": eta, "exclude": False}
        super().__init__(params, defaults)

    @torch.no_grad()
    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """One update of every parameter with a gradient."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                update = p.grad
                if not group["exclude"]:
                    update = update.add(p, alpha=group["weight_decay"])
                    p_norm, u_norm = torch.linalg.vector_norm(p), torch.linalg.vector_norm(update)
                    one = torch.ones_like(p_norm)
                    ratio = torch.where((p_norm > 0) & (u_norm > 0), group["eta"] * p_norm / u_norm, one)
                    update = update.mul(ratio)
                state = self.state[p]
                if "mu" not in state:
                    state["mu"] = torch.zeros_like(p)
                state["mu"].mul_(group["momentum"]).add_(update)
                p.add_(state["mu"], alpha=-group["lr"])
        return loss


def lars_groups(parameters: Iterable[torch.nn.Parameter], lr: float, bias_lr_ratio: float) -> list[dict[str, Any]]:
    """The reference's two LARS groups: weights (``ndim > 1``) at ``lr``, and the 1-D parameters.

    The 1-D parameters (biases, normalisation) are excluded from weight decay and the trust
    ratio, at ``lr * bias_lr_ratio``.
    """
    parameters = list(parameters)
    weights = [p for p in parameters if p.ndim > 1]
    others = [p for p in parameters if p.ndim <= 1]
    groups = [{"params": weights, "lr": lr, "exclude": False}]
    if others:
        groups.append({"params": others, "lr": lr * bias_lr_ratio, "exclude": True})
    return groups


@OPTIMIZERS.register("lars")
def _lars(parameters: Iterable[torch.nn.Parameter], config: OptimConfig) -> torch.optim.Optimizer:
    return LARS(
        lars_groups(parameters, config.lr, config.bias_lr_ratio),
        lr=config.lr,
        weight_decay=config.weight_decay,
        momentum=config.momentum,
        eta=config.trust_coefficient,
    )


def _schedule_length(trainer: L.Trainer) -> tuple[int, int]:
    """``(total optimiser steps, steps per epoch)`` of the run."""
    total = trainer.estimated_stepping_batches  # also sets up the training data
    if not math.isfinite(total):
        raise ParameterError(
            "the learning-rate schedule needs a length: set trainer.max_epochs or trainer.max_steps "
            "(trainer.max_time alone only stops training)"
        )
    total = max(1, int(total))
    batches = trainer.num_training_batches
    accumulate = max(1, trainer.accumulate_grad_batches)
    steps_per_epoch = max(1, int(batches) // accumulate) if math.isfinite(batches) else total
    return total, steps_per_epoch


def warmup_cosine_schedule(
    optimizer: torch.optim.Optimizer, trainer: L.Trainer, warmup_epochs: float, min_lr_ratio: float
) -> torch.optim.lr_scheduler.LambdaLR:
    """Per-step linear warm-up over ``warmup_epochs`` then cosine decay to ``min_lr_ratio * lr``.

    The schedule spans ``trainer.max_steps`` or ``trainer.max_epochs`` (``min_lr_ratio = 1``
    and ``warmup_epochs = 0`` give a constant learning rate).

    Raises:
        ParameterError: Neither ``max_epochs`` nor ``max_steps`` bounds the run.
    """
    total, steps_per_epoch = _schedule_length(trainer)
    warmup = min(total - 1, int(warmup_epochs * steps_per_epoch)) if total > 1 else 0

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / (warmup + 1)
        progress = min(1.0, (step - warmup) / max(1, total - warmup))
        return min_lr_ratio + (1 - min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


@SCHEDULES.register("warmup_cosine")
def _warmup_cosine(optimizer: torch.optim.Optimizer, trainer: L.Trainer, config: OptimConfig) -> Any:
    return warmup_cosine_schedule(optimizer, trainer, config.warmup_epochs, config.min_lr_ratio)


@SCHEDULES.register("constant")
def _constant(optimizer: torch.optim.Optimizer, trainer: L.Trainer, config: OptimConfig) -> Any:
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0)


def configure_optimizers(module: torch.nn.Module, config: OptimConfig | dict[str, Any], trainer: L.Trainer) -> dict:
    """Lightning's ``configure_optimizers`` result for ``module``'s trainable parameters.

    Frozen parameters (``requires_grad = False``, see ``model.freeze``) are left out, so no
    optimiser state or weight decay touches them.

    Args:
        module: The LightningModule (or any module).
        config: The ``optim`` section.
        trainer: The trainer (the schedule's length).

    Raises:
        ParameterError: As the schedule (no ``max_epochs``/``max_steps``), or nothing to train.
    """
    if not isinstance(config, OptimConfig):
        config = OptimConfig.model_validate(config)
    parameters = [p for p in module.parameters() if p.requires_grad]
    if not parameters:
        raise ParameterError("every parameter is frozen (model.freeze); nothing to train")
    optimizer = OPTIMIZERS.get(config.name)(parameters, config)
    scheduler = SCHEDULES.get(config.schedule)(optimizer, trainer, config)
    return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}
