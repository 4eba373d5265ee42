"""Lightning task for audio classification (single-label or multi-label) with any registered model.

The task owns the front-end of its input pipeline (``features.type``: a
:class:`~audiolens.transforms.LogMel` for ``logmel``, peak normalisation or nothing for
``waveform``), so a checkpoint carries everything needed to classify raw audio: model name and
kwargs, input pipeline, class names (saved as hyper-parameters; :func:`load_task` rebuilds it).

Training recipe: the ``optim`` section's optimiser and schedule (AdamW with linear warm-up then
cosine decay by default, per step), optional class weights, mixup (on the model input) with
soft targets, SpecAugment (on spectrogram inputs: log-Mel and MRMF), waveform augmentations
(``task.augment.waveform``: gain, noise, time masking, mix-back, before the front-end). The
loss is cross-entropy (single-label) or binary cross-entropy (multi-label), plus the model's
auxiliary losses weighted by ``task.loss_weights`` (:func:`~audiolens.models.split_output`); a
model whose auxiliary losses need the labels (CAT's causal loss) declares ``uses_targets = True`` and is called as
``model(x, target=soft_targets)`` in training and evaluation steps (soft targets
``(batch, num_classes)``, mixed when mixup is on). Validation/test log
``{split}_loss`` and ``{split}_accuracy`` / ``{split}_macro_f1`` (single-label) or
``{split}_map`` / ``{split}_micro_f1`` (multi-label, threshold 0.5).

Determinism: the global RNG is re-seeded from ``(seed, micro-batch index, rank)`` before every
training batch and the data order depends only on ``(seed, epoch)``, so a run resumed from an
epoch-end checkpoint continues exactly like an uninterrupted one.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import lightning as L
import torch
import torch.nn.functional as F
import torchmetrics
from torch import nn

from audiolens._internal.config import Config, NonNegativeFloat, NonNegativeInt, validate
from audiolens._internal.errors import DataError, ParameterError
from audiolens.functional.augment import mixup
from audiolens.models import create_model, model_accepts, model_input_kinds, split_output
from audiolens.training.optim import OptimConfig, configure_optimizers
from audiolens.transforms import SpecAugment
from audiolens.transforms.inputs import INPUTS, InputConfig

__all__ = [
    "AugmentConfig",
    "ClassificationTask",
    "build_model",
    "check_model_input",
    "chunked_model_inputs",
    "input_config",
    "load_task",
    "seed_step",
    "split_metrics",
    "waveform_features",
]


class AugmentConfig(Config):
    """``task.augment`` of the classification task.

    Attributes:
        mixup_alpha: Mixup's Beta parameter (0: off), applied to the model input.
        freq_mask: SpecAugment's largest frequency mask in bins (0: off; spectrogram inputs).
        time_mask: SpecAugment's largest time mask in frames (0: off).
        n_freq_masks: Frequency masks per example.
        n_time_masks: Time masks per example.
        waveform: Waveform augmentations applied to training clips before the front-end, in
            order, each a name or ``{name: {options}}`` of
            :data:`~audiolens.training.augment.AUGMENTATIONS` with kind ``waveform``: ``gain``,
            ``noise``, ``time_mask``, ``mix_back`` (the sonification paper's supervised recipe:
            ``[gain, noise, time_mask]`` with mixup).
    """

    mixup_alpha: NonNegativeFloat = 0.0
    freq_mask: NonNegativeInt = 0
    time_mask: NonNegativeInt = 0
    n_freq_masks: NonNegativeInt = 2
    n_time_masks: NonNegativeInt = 2
    waveform: list[str | dict[str, dict[str, Any] | None]] = []


def _waveform_augmentations(items: list[Any]) -> nn.Sequential:
    """The modules of ``task.augment.waveform``.

    Raises:
        ParameterError: Unknown names, bad options, or an augmentation of another input kind.
    """
    from audiolens.training.augment import AUGMENTATIONS, build_augmentations, parse_augment

    where = "task.augment.waveform"
    waveform = [n for n in AUGMENTATIONS.names() if AUGMENTATIONS.meta(n)["kind"] == "waveform"]
    for k, (name, _) in enumerate(parse_augment(items, where)):
        if name not in waveform:
            raise ParameterError(
                f"{where}[{k}] {name!r} is a {AUGMENTATIONS.meta(name)['kind']} augmentation; this list takes "
                f"waveform ones ({', '.join(waveform)}); SpecAugment and mixup have their own task.augment keys"
            )
    return build_augmentations(items, "waveform", where)[0]


def input_config(features: Mapping[str, Any] | InputConfig | None) -> InputConfig:
    """The input pipeline of a ``features`` dict (as stored in checkpoints), resolved.

    A dict without ``type`` is a ``logmel`` front-end (checkpoints written before input
    pipelines had types store the :class:`~audiolens.functional.FrontendConfig` fields).

    Raises:
        ParameterError: Unknown ``type`` or invalid settings.
    """
    if isinstance(features, InputConfig):
        return features.resolve(None)
    given = dict(features or {})
    kind = given.get("type", "logmel")
    return validate(INPUTS.get(kind), {**given, "type": kind}, "features").resolve(None)


def build_model(
    model: str, features: InputConfig, model_kwargs: Mapping[str, Any] | None, num_classes: int, why: str
) -> nn.Module:
    """The registry model of a task: ``model.kwargs`` plus what the input pipeline tells models that accept it.

    Args:
        model: Registry name.
        features: The resolved input pipeline (checked against the model's ``input_kind``).
        model_kwargs: ``model.kwargs``.
        num_classes: Classifier outputs (0: the encoder alone).
        why: Why ``model.kwargs`` may not set ``num_classes`` (for the message).

    Raises:
        ParameterError: ``num_classes`` in ``model.kwargs``, a model of another input kind,
            unknown model or options.
    """
    kwargs = dict(model_kwargs or {})
    if "num_classes" in kwargs:
        raise ParameterError(f"model.kwargs must not set num_classes: {why}")
    check_model_input(model, features)
    for key, value in features.model_kwargs().items():
        if key not in kwargs and model_accepts(model, key):
            kwargs[key] = value
    return create_model(model, num_classes=num_classes, **kwargs)


def check_model_input(model: str, features: InputConfig) -> None:
    """Refuse a model whose declared ``input_kind`` is not what the input pipeline gives.

    Models that declare no ``input_kind`` are not checked.

    Raises:
        ParameterError: Naming the model, its input kind and the pipeline.
    """
    accepted = model_input_kinds(model)
    if accepted and features.kind not in accepted:
        expected = " or ".join(repr(k) for k in accepted)
        raise ParameterError(
            f"model {model!r} takes {expected} input but features.type is {features.type!r} "
            f"(which gives {features.kind!r}); set features.type to a pipeline that gives {expected} input"
        )


class ClassificationTask(L.LightningModule):
    """Train / evaluate a registered model on waveforms.

    Args:
        model: Registry name (see ``audiolens models list``).
        class_names: Class names; their number sets ``num_classes``.
        model_kwargs: Extra keyword arguments for :func:`~audiolens.models.create_model`.
        features: The ``features`` section (an input pipeline, see
            :mod:`audiolens.transforms.inputs`); ``None``: the default log-Mel.
        optim: The ``optim`` section (:class:`~audiolens.training.optim.OptimConfig`).
        augment: ``task.augment`` (:class:`AugmentConfig`).
        class_weights: Optional per-class loss weights ``(num_classes,)`` (single-label).
        seed: Seed of the per-step RNG.
        duration: Clip length in seconds used in training (evaluation cuts/pads to it).
        multilabel: Multi-label targets (0/1 vectors, sigmoid outputs, binary cross-entropy).
        loss_weights: Weights of the model's auxiliary losses by name (default 1 each).

    Input ``(batch, n_samples)`` waveforms at :attr:`sample_rate`; output logits
    ``(batch, num_classes)``.

    Raises:
        ParameterError: Invalid sections, too few classes, bad class weights, a model whose
            ``input_kind`` is not the input pipeline's.
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
        multilabel: bool = False,
        loss_weights: dict[str, float] | None = None,
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        if len(class_names) < 2 and not (multilabel and class_names):
            raise ParameterError(f"classification needs at least 2 classes, got {class_names}")
        self.optim = validate(OptimConfig, optim, "optim")
        self.augment = validate(AugmentConfig, augment, "task.augment")
        self.input = input_config(features)
        self.num_classes = len(class_names)
        self.class_names = list(class_names)
        self.seed = seed
        self.duration = duration
        self.multilabel = multilabel
        self.loss_weights = dict(loss_weights or {})
        self.frontend: nn.Module = self.input.build()
        self.model = build_model(
            model, self.input, model_kwargs, self.num_classes, "it comes from the dataset's classes"
        )
        self.spec_augment = SpecAugment(
            self.augment.freq_mask, self.augment.time_mask, self.augment.n_freq_masks, self.augment.n_time_masks
        )
        self.wave_augment = _waveform_augmentations(self.augment.waveform)
        if class_weights is not None:
            if multilabel:
                raise ParameterError("task.class_weights applies to single-label classification only")
            if len(class_weights) != self.num_classes or min(class_weights) < 0:
                raise ParameterError(
                    f"class_weights must be {self.num_classes} non-negative numbers, got {class_weights}"
                )
            self.register_buffer("class_weights", torch.tensor(class_weights, dtype=torch.float32))
        else:
            self.class_weights = None
        self.metrics = split_metrics(self.num_classes, multilabel=multilabel)

    @property
    def sample_rate(self) -> int:
        """Input sample rate in Hz (the input pipeline's)."""
        return int(self.input.sample_rate)

    def features(self, waveform: torch.Tensor) -> torch.Tensor:
        """Model input for ``waveform`` ``(batch, n_samples)`` (log-Mel ``(batch, n_mels, n_frames)``, ...).

        Raises:
            DataError: NaN or Inf samples.
        """
        return waveform_features(self.frontend, waveform)

    def model_inputs(self, waveform: torch.Tensor, device: torch.device | str | None = None) -> torch.Tensor:
        """The model's input for a fixed set of waveforms ``(N, n_samples)`` (information plane).

        Returns the front-end output on ``device``, computed in chunks without gradient.
        """
        return chunked_model_inputs(self, waveform, device)

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        """Logits ``(batch, num_classes)`` for waveforms ``(batch, n_samples)``."""
        return split_output(self.model(self.features(waveform)))[0]

    def probabilities(self, logits: torch.Tensor) -> torch.Tensor:
        """Softmax (single-label) or sigmoid (multi-label) of ``logits``."""
        return torch.sigmoid(logits) if self.multilabel else torch.softmax(logits, dim=-1)

    def _soft_targets(self, target: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
        return target.to(dtype) if self.multilabel else F.one_hot(target, self.num_classes).to(dtype)

    def _loss(self, logits: torch.Tensor, soft_targets: torch.Tensor) -> torch.Tensor:
        if self.multilabel:
            return F.binary_cross_entropy_with_logits(logits, soft_targets)
        log_probs = F.log_softmax(logits, dim=-1)
        if self.class_weights is not None:
            weights = (soft_targets * self.class_weights).sum(dim=-1)
            return -(soft_targets * log_probs).sum(dim=-1).mul(weights).sum() / weights.sum().clamp_min(1e-12)
        return -(soft_targets * log_probs).sum(dim=-1).mean()

    def _with_auxiliary(self, loss: torch.Tensor, aux: dict[str, torch.Tensor], split: str, batch: int) -> torch.Tensor:
        unknown = sorted(set(self.loss_weights) - set(aux))
        if unknown:
            raise ParameterError(
                f"task.loss_weights names {unknown}, but model {self.hparams.model!r} returns "
                f"{sorted(aux) or 'no auxiliary losses'}"
            )
        for name, value in aux.items():
            self.log(f"{split}_{name}_loss", value, on_step=False, on_epoch=True, batch_size=batch, sync_dist=True)
            loss = loss + self.loss_weights.get(name, 1.0) * value
        return loss

    def _model_output(self, x: torch.Tensor, soft: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """``(logits, auxiliary losses)``; a model that declares ``uses_targets`` also gets ``target=soft``."""
        if getattr(self.model, "uses_targets", False):
            return split_output(self.model(x, target=soft))
        return split_output(self.model(x))

    def on_train_batch_start(self, batch: Any, batch_idx: int) -> None:
        """Re-seed the RNG (:func:`seed_step`), so ``--resume`` continues exactly."""
        seed_step(self)

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> torch.Tensor:
        """Waveform augmentations, front-end, SpecAugment, mixup, (binary) cross-entropy, auxiliary losses."""
        waveform, target = batch
        x = self.features(self.wave_augment(waveform))
        if x.dim() >= 3:  # spectrogram inputs (log-Mel, MRMF); not waveforms
            x = self.spec_augment(x)
        soft = self._soft_targets(target, x.dtype)
        if self.augment.mixup_alpha > 0:
            x, soft, _ = mixup(x, soft, self.augment.mixup_alpha)
        logits, aux = self._model_output(x, soft)
        loss = self._with_auxiliary(self._loss(logits, soft), aux, "train", len(target))
        self.log(
            "train_loss", loss, on_step=False, on_epoch=True, prog_bar=True, batch_size=len(target), sync_dist=True
        )
        return loss

    def _eval_step(self, batch: tuple[torch.Tensor, torch.Tensor], split: str) -> None:
        waveform, target = batch
        x = self.features(waveform)
        soft = self._soft_targets(target, x.dtype)
        logits, aux = self._model_output(x, soft)
        loss = self._loss(logits, soft)
        if aux:
            loss = self._with_auxiliary(loss, aux, split, len(target))
        self.metrics[split].update(logits, target.long() if self.multilabel else target)
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
        """Log the epoch's validation metrics."""
        self._log_metrics("val")

    def on_test_epoch_end(self) -> None:
        """Log the test metrics."""
        self._log_metrics("test")

    def predict_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        """Class probabilities ``(batch, num_classes)``."""
        waveform = batch[0] if isinstance(batch, (tuple, list)) else batch
        return self.probabilities(self(waveform))

    def configure_optimizers(self) -> dict[str, Any]:
        """The ``optim`` section's optimiser and per-step schedule over the trainable parameters.

        Raises:
            ParameterError: Neither ``max_epochs`` nor ``max_steps`` bounds the run.
        """
        return configure_optimizers(self, self.optim, self.trainer)

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Stamp the checkpoint with what ``audiolens evaluate`` needs to know."""
        checkpoint["audiolens"] = {
            "task": "classification",
            "model": self.hparams.model,
            "class_names": self.class_names,
        }


def split_metrics(num_classes: int, *, multilabel: bool = False) -> nn.ModuleDict:
    """``{"val", "test"}`` metric collections, logged as ``{split}_accuracy`` etc.

    Single-label: multiclass accuracy and macro-F1. Multi-label: macro mean average precision
    (``map``, threshold-free) and micro-F1 at threshold 0.5.
    """
    if multilabel:
        args = {"num_labels": num_classes}

        def make() -> dict[str, torchmetrics.Metric]:
            return {
                "map": torchmetrics.classification.MultilabelAveragePrecision(average="macro", **args),
                "micro_f1": torchmetrics.classification.MultilabelF1Score(average="micro", **args),
            }
    else:
        args = {"task": "multiclass", "num_classes": num_classes}

        def make() -> dict[str, torchmetrics.Metric]:
            return {
                "accuracy": torchmetrics.Accuracy(**args),
                "macro_f1": torchmetrics.F1Score(average="macro", **args),
            }

    return nn.ModuleDict(
        {split: torchmetrics.MetricCollection(make(), prefix=f"{split}_") for split in ("val", "test")}
    )


def waveform_features(frontend: nn.Module, waveform: torch.Tensor) -> torch.Tensor:
    """``frontend(waveform)``, computed in float32 also under mixed precision.

    (``|X|^2`` overflows fp16 and the 1e-10 dB floor underflows it.)

    Raises:
        DataError: NaN or Inf samples.
    """
    if not torch.isfinite(waveform).all():
        raise DataError("input waveform contains NaN or Inf samples")
    with torch.autocast(device_type=waveform.device.type, enabled=False):
        return frontend(waveform.float())


def chunked_model_inputs(
    module: L.LightningModule, waveform: torch.Tensor, device: torch.device | str | None = None
) -> torch.Tensor:
    """``module.features`` of waveforms ``(N, n_samples)`` in chunks of 256 without gradient, on ``device``.

    The ``model_inputs`` hook every audio task gives the information plane.
    """
    device = device or module.device
    with torch.no_grad():
        return torch.cat([module.features(chunk.to(device)) for chunk in waveform.split(256)])


def seed_step(module: L.LightningModule) -> None:
    """Re-seed the global RNG from ``(module.seed, micro-batch index, rank)`` before a training step.

    The index counts training batches across epochs (Lightning's ``total_batch_idx``, restored
    on resume), so every micro-batch of a gradient-accumulation group draws its own random
    numbers, and a run resumed from ``last.ckpt`` continues exactly like an uninterrupted one.
    """
    step = module.trainer.fit_loop.total_batch_idx
    torch.manual_seed(module.seed * 1_000_003 + step * 7_919 + module.global_rank)


def load_task(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> L.LightningModule:
    """Load any audiolens checkpoint through its task's registered loader (eval mode).

    Equivalent to :func:`audiolens.training.tasks.load_checkpoint`.

    Raises:
        DataError: Missing or unreadable file, or a checkpoint no registered task wrote.
    """
    from audiolens.training.tasks import load_checkpoint

    return load_checkpoint(path, map_location)
