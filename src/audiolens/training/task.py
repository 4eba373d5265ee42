"""Lightning task for single-label audio classification with any registered model.

The task owns the front-end (a :class:`~audiolens.transforms.LogMel` for ``logmel``
models; nothing for ``waveform`` models), so a checkpoint carries everything needed to
classify raw audio: model name and kwargs, front-end config, class names (saved as
hyper-parameters; :func:`load_task` rebuilds it).

Training recipe: AdamW, linear warm-up then cosine decay (per step), optional class
weights, mixup (on the log-Mel) with soft targets, SpecAugment. Validation/test log
``{split}_loss``, ``{split}_accuracy`` and ``{split}_macro_f1``.

Determinism: the global RNG is re-seeded from ``(seed, step)`` before every training batch
and the data order depends only on ``(seed, epoch)``, so a run resumed from an epoch-end
checkpoint continues exactly like an uninterrupted one.
"""

from __future__ import annotations

import math
import os
from typing import Any

import lightning as L
import torch
import torch.nn.functional as F
import torchmetrics
from torch import nn

from audiolens._internal.errors import DataError, ParameterError
from audiolens.functional.augment import mixup
from audiolens.functional.presets import FrontendConfig
from audiolens.models import create_model
from audiolens.transforms import LogMel, SpecAugment

__all__ = [
    "ClassificationTask",
    "load_task",
    "optimizer_with_schedule",
    "seed_step",
    "split_metrics",
    "warmup_cosine_schedule",
]

_OPTIM_KEYS = {"lr", "weight_decay", "warmup_epochs", "betas", "min_lr_ratio"}
_AUGMENT_KEYS = {"mixup_alpha", "freq_mask", "time_mask", "n_freq_masks", "n_time_masks"}


class ClassificationTask(L.LightningModule):
    """Train / evaluate a registered model on waveforms.

    Args:
        model: Registry name (see ``audiolens models list``).
        class_names: Class names; their number sets ``num_classes``.
        model_kwargs: Extra keyword arguments for :func:`~audiolens.models.create_model`.
        features: :class:`~audiolens.functional.FrontendConfig` fields (dict) for ``logmel``
            models; ignored by ``waveform`` models.
        optim: ``lr`` (1e-3), ``weight_decay`` (1e-2), ``warmup_epochs`` (1),
            ``betas`` ((0.9, 0.999)), ``min_lr_ratio`` (0.01, cosine floor).
        augment: ``mixup_alpha`` (0: off), SpecAugment ``freq_mask``, ``time_mask``,
            ``n_freq_masks``, ``n_time_masks`` (0: off).
        class_weights: Optional per-class loss weights ``(num_classes,)``.
        seed: Seed of the per-epoch RNG.
        duration: Clip length in seconds used in training (evaluation cuts/pads to it).

    Input ``(batch, n_samples)`` waveforms at ``features["sample_rate"]``; output logits
    ``(batch, num_classes)``.

    Raises:
        ParameterError: Unknown optim/augment keys, too few classes, bad class weights.
    """

    def __init__(
        self,
        model: str,
        class_names: list[str],
        model_kwargs: dict[str, Any] | None = None,
        features: dict[str, Any] | None = None,
        optim: dict[str, Any] | None = None,
        augment: dict[str, Any] | None = None,
        class_weights: list[float] | None = None,
        seed: int = 0,
        duration: float | None = None,
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        if len(class_names) < 2:
            raise ParameterError(f"classification needs at least 2 classes, got {class_names}")
        optim, augment = dict(optim or {}), dict(augment or {})
        for section, given, valid in (("optim", optim, _OPTIM_KEYS), ("task.augment", augment, _AUGMENT_KEYS)):
            unknown = sorted(set(given) - valid)
            if unknown:
                raise ParameterError(f"unknown {section} key(s) {unknown}; valid: {', '.join(sorted(valid))}")
        self.optim = {
            "lr": 1e-3,
            "weight_decay": 1e-2,
            "warmup_epochs": 1,
            "betas": (0.9, 0.999),
            "min_lr_ratio": 0.01,
            **optim,
        }
        self.augment = {
            "mixup_alpha": 0.0,
            "freq_mask": 0,
            "time_mask": 0,
            "n_freq_masks": 2,
            "n_time_masks": 2,
            **augment,
        }
        self.num_classes = len(class_names)
        self.class_names = list(class_names)
        self.seed = seed
        self.duration = duration
        kwargs = dict(model_kwargs or {})
        if "num_classes" in kwargs:
            raise ParameterError("model.kwargs must not set num_classes: it comes from the dataset's classes")
        self.frontend: nn.Module | None = None
        probe = create_model(model, num_classes=self.num_classes, **kwargs)
        if getattr(probe, "input_kind", "logmel") == "logmel":
            config = FrontendConfig(**(features or {}))
            self.frontend = LogMel(config)
            if "n_mels" not in kwargs and getattr(probe, "n_mels", config.n_mels) != config.n_mels:
                probe = create_model(model, num_classes=self.num_classes, n_mels=config.n_mels, **kwargs)
        self.model = probe
        self.spec_augment = SpecAugment(
            self.augment["freq_mask"],
            self.augment["time_mask"],
            self.augment["n_freq_masks"],
            self.augment["n_time_masks"],
        )
        if class_weights is not None:
            if len(class_weights) != self.num_classes or min(class_weights) < 0:
                raise ParameterError(
                    f"class_weights must be {self.num_classes} non-negative numbers, got {class_weights}"
                )
            self.register_buffer("class_weights", torch.tensor(class_weights, dtype=torch.float32))
        else:
            self.class_weights = None
        self.metrics = split_metrics(self.num_classes)

    @property
    def sample_rate(self) -> int | None:
        """Input sample rate in Hz expected by the front-end (``None`` for waveform models)."""
        return (
            self.frontend.sample_rate
            if self.frontend is not None
            else self.hparams.get("features", {}).get("sample_rate")
        )

    def features(self, waveform: torch.Tensor) -> torch.Tensor:
        """Model input for ``waveform`` ``(batch, n_samples)``.

        Returns log-Mel ``(batch, n_mels, n_frames)`` for spectrogram models, the waveform otherwise.

        Raises:
            DataError: NaN or Inf samples.
        """
        if not torch.isfinite(waveform).all():
            raise DataError("input waveform contains NaN or Inf samples")
        if self.frontend is None:
            return waveform
        # The front-end always runs in float32, also under mixed precision: |X|^2 overflows
        # fp16 and the 1e-10 dB floor underflows it.
        with torch.autocast(device_type=waveform.device.type, enabled=False):
            return self.frontend(waveform.float())

    def model_inputs(self, waveform: torch.Tensor, device: torch.device | str | None = None) -> torch.Tensor:
        """The model's input for a fixed set of waveforms ``(N, n_samples)`` (information plane).

        Returns the front-end output (log-Mel ``(N, n_mels, n_frames)``, or the waveform for
        waveform models) on ``device``, computed in chunks without gradient.
        """
        device = device or self.device
        with torch.no_grad():
            return torch.cat([self.features(chunk.to(device)) for chunk in waveform.split(256)])

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        """Logits ``(batch, num_classes)`` for waveforms ``(batch, n_samples)``."""
        return self.model(self.features(waveform))

    def _loss(self, logits: torch.Tensor, soft_targets: torch.Tensor) -> torch.Tensor:
        log_probs = F.log_softmax(logits, dim=-1)
        if self.class_weights is not None:
            weights = (soft_targets * self.class_weights).sum(dim=-1)
            return -(soft_targets * log_probs).sum(dim=-1).mul(weights).sum() / weights.sum().clamp_min(1e-12)
        return -(soft_targets * log_probs).sum(dim=-1).mean()

    def on_train_batch_start(self, batch: Any, batch_idx: int) -> None:
        """Re-seed the RNG from ``(seed, global_step, rank)``.

        Every batch's randomness (dropout, SpecAugment, mixup) then depends only on the step,
        so a run resumed from ``last.ckpt`` continues exactly like an uninterrupted one.
        """
        seed_step(self)

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> torch.Tensor:
        """Front-end, SpecAugment, mixup, soft cross-entropy."""
        waveform, target = batch
        x = self.features(waveform)
        if x.dim() == 3:
            x = self.spec_augment(x)
        soft = F.one_hot(target, self.num_classes).to(x.dtype)
        if self.augment["mixup_alpha"] > 0:
            x, soft, _ = mixup(x, soft, self.augment["mixup_alpha"])
        loss = self._loss(self.model(x), soft)
        self.log(
            "train_loss", loss, on_step=False, on_epoch=True, prog_bar=True, batch_size=len(target), sync_dist=True
        )
        return loss

    def _eval_step(self, batch: tuple[torch.Tensor, torch.Tensor], split: str) -> None:
        waveform, target = batch
        logits = self(waveform)
        loss = self._loss(logits, F.one_hot(target, self.num_classes).to(logits.dtype))
        self.metrics[split].update(logits, target)
        self.log(f"{split}_loss", loss, on_epoch=True, prog_bar=split == "val", batch_size=len(target), sync_dist=True)

    def validation_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> None:
        """Validation loss and metrics."""
        self._eval_step(batch, "val")

    def test_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> None:
        """Test loss and metrics."""
        self._eval_step(batch, "test")

    def _log_metrics(self, split: str) -> None:
        values = self.metrics[split].compute()
        self.log_dict(values, prog_bar=split == "val")
        self.metrics[split].reset()

    def on_validation_epoch_end(self) -> None:
        """Log the epoch's validation accuracy / macro-F1."""
        self._log_metrics("val")

    def on_test_epoch_end(self) -> None:
        """Log the test accuracy / macro-F1."""
        self._log_metrics("test")

    def predict_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        """Class probabilities ``(batch, num_classes)``."""
        waveform = batch[0] if isinstance(batch, (tuple, list)) else batch
        return torch.softmax(self(waveform), dim=-1)

    def configure_optimizers(self) -> dict[str, Any]:
        """AdamW with linear warm-up and cosine decay to ``min_lr_ratio * lr`` (stepped per batch).

        The schedule spans ``trainer.max_steps`` or ``trainer.max_epochs``; ``trainer.max_time``
        may stop training before the cosine reaches its floor.

        Raises:
            ParameterError: Neither ``max_epochs`` nor ``max_steps`` bounds the run.
        """
        return optimizer_with_schedule(torch.optim.AdamW, self.parameters(), self.optim, self.trainer)

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Stamp the checkpoint with what ``audiolens evaluate`` needs to know."""
        checkpoint["audiolens"] = {
            "task": "classification",
            "model": self.hparams.model,
            "class_names": self.class_names,
        }


def split_metrics(num_classes: int) -> nn.ModuleDict:
    """``{"val", "test"}`` collections of multiclass accuracy and macro-F1, logged as ``{split}_accuracy`` etc."""
    args = {"task": "multiclass", "num_classes": num_classes}
    return nn.ModuleDict(
        {
            split: torchmetrics.MetricCollection(
                {"accuracy": torchmetrics.Accuracy(**args), "macro_f1": torchmetrics.F1Score(average="macro", **args)},
                prefix=f"{split}_",
            )
            for split in ("val", "test")
        }
    )


def seed_step(module: L.LightningModule) -> None:
    """Re-seed the global RNG from ``(module.seed, global_step, rank)`` before a training step.

    Every step's randomness then depends only on the step, so a run resumed from ``last.ckpt``
    continues exactly like an uninterrupted one.
    """
    torch.manual_seed(module.seed * 1_000_003 + module.global_step * 7_919 + module.global_rank)


def optimizer_with_schedule(
    optimizer_class: type[torch.optim.Optimizer], parameters: Any, optim: dict[str, Any], trainer: L.Trainer
) -> dict[str, Any]:
    """Lightning's optimiser config: ``optimizer_class`` (``lr``, ``weight_decay``, ``betas``) + per-step schedule.

    Raises:
        ParameterError: As :func:`warmup_cosine_schedule`.
    """
    optimizer = optimizer_class(
        parameters, lr=optim["lr"], weight_decay=optim["weight_decay"], betas=tuple(optim["betas"])
    )
    scheduler = warmup_cosine_schedule(optimizer, trainer, optim["warmup_epochs"], optim["min_lr_ratio"])
    return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}


def warmup_cosine_schedule(
    optimizer: torch.optim.Optimizer, trainer: L.Trainer, warmup_epochs: float, min_lr_ratio: float
) -> torch.optim.lr_scheduler.LambdaLR:
    """Per-step linear warm-up over ``warmup_epochs`` then cosine decay to ``min_lr_ratio * lr``.

    The schedule spans ``trainer.max_steps`` or ``trainer.max_epochs`` (``min_lr_ratio = 1``
    and ``warmup_epochs = 0`` give a constant learning rate).

    Raises:
        ParameterError: Neither ``max_epochs`` nor ``max_steps`` bounds the run.
    """
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
    warmup = min(total - 1, int(warmup_epochs * steps_per_epoch)) if total > 1 else 0

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / (warmup + 1)
        progress = min(1.0, (step - warmup) / max(1, total - warmup))
        return min_lr_ratio + (1 - min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def load_task(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> ClassificationTask:
    """Load a classification checkpoint written by ``audiolens run`` (eval mode).

    Raises:
        DataError: Missing file, or a checkpoint that is not an audiolens classification checkpoint.
    """
    if not os.path.isfile(path):
        raise DataError(f"checkpoint not found: {path}")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as exc:  # noqa: BLE001 - any unpickling failure means a bad file
        raise DataError(f"cannot read checkpoint {path}: {exc}") from exc
    if not isinstance(ckpt, dict) or ckpt.get("audiolens", {}).get("task") != "classification":
        raise DataError(f"{path} is not an audiolens classification checkpoint (written by `audiolens run`)")
    task = ClassificationTask(**ckpt["hyper_parameters"])
    task.load_state_dict(ckpt["state_dict"])
    return task.to(map_location).eval()
