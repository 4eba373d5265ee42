"""Self-supervised pre-training: Audio Barlow Twins and SimCLR as one Lightning module.

:class:`PretrainTask` trains any registry encoder (at ``.model``, built with ``num_classes=0``)
with a projector and a two-view objective on unlabelled audio:

1. each training batch of waveforms gives ``views`` views, from one crop per clip
   ``(batch, n_samples)`` or from one crop per view ``(batch, views, n_samples)``
   (``task.crops: separate``): the waveform augmentations, the
   ``features`` front-end (with ABT's pre-norm when ``features.normalize: dataset``), then the
   log-Mel augmentations, each drawn independently per view (:class:`~audiolens.transforms.MultiView`
   semantics; BYOL-A's mixup memory sees every view, as ABT's dataset applies its transform twice);
2. ``z = projector(encoder(view))``;
3. the objective (:data:`OBJECTIVES`): ``barlow_twins`` (ABT: :class:`~audiolens.losses.BarlowTwinsLoss`,
   lambda 5e-3, projector 8192 -> 256) or ``nt_xent`` (SimCLR:
   :class:`~audiolens.losses.NTXentLoss`, tau 0.1, projector 512 -> 512), on the global batch
   under DDP. More than two views average the objective over every pair.

Augmentations (:data:`AUGMENTATIONS`, ``task.augment``, applied in the order given):
``mixup`` (:class:`~audiolens.transforms.LogMixupExp`), ``rrc``
(:class:`~audiolens.transforms.RandomResizeCrop`), ``rlf``
(:class:`~audiolens.transforms.RandomLinearFader`), ``gaussian_noise``
(:class:`~audiolens.transforms.GaussianNoiseInterpolation`), ``post_norm``
(:class:`~audiolens.transforms.PostNorm`) on log-Mel; ``gain``, ``noise``, ``time_mask``,
``mix_back`` on waveforms (before the front-end).

Validation: the same objective on the validation clips with augmentations drawn from a seed fixed
per batch (the same draws every epoch, so ``val_loss`` is comparable across epochs; with mixup,
the partners come from the memory as training left it, so the views change with it; the memory
itself is left untouched). Under DDP the trainer syncs BatchNorm statistics across ranks
(``trainer.sync_batchnorm``, the plug-in's default) and the objectives gather the global batch.

Resume: the global RNG is re-seeded before every training batch
(:func:`~audiolens.training.task.seed_step`), but a resumed run is not bit-identical to an
uninterrupted one: it starts with an empty mixup memory, and a run streaming WebDataset shards
restarts the interrupted epoch's stream from its beginning.
"""

from __future__ import annotations

import itertools
from typing import Any

import lightning as L
import torch
from torch import nn

from audiolens._internal.errors import ParameterError, unknown_choice
from audiolens.losses import BarlowTwinsLoss, BarlowTwinsProjector, NTXentLoss, SimCLRProjector
from audiolens.training.augment import AUGMENTATIONS, build_augmentations, parse_augment
from audiolens.training.optim import OptimConfig, configure_optimizers
from audiolens.training.task import (
    build_model,
    chunked_model_inputs,
    input_config,
    seed_step,
    waveform_features,
)
from audiolens.transforms import LogMixupExp

__all__ = ["AUGMENTATIONS", "OBJECTIVES", "PretrainTask", "build_augmentations", "parse_augment"]

#: Objectives by ``task.loss``: ``(loss factory(task config), projector class, default (hidden, out))``.
OBJECTIVES: dict[str, tuple[Any, type[nn.Module], tuple[int, int]]] = {
    "barlow_twins": (lambda c: BarlowTwinsLoss(lambda_param=c["lambda_param"]), BarlowTwinsProjector, (8192, 256)),
    "nt_xent": (lambda c: NTXentLoss(temperature=c["temperature"]), SimCLRProjector, (512, 512)),
}


class PretrainTask(L.LightningModule):
    """Self-supervised pre-training of a registry encoder (see the module doc).

    Args:
        model: Registry name of the encoder (built with ``num_classes=0``).
        model_kwargs: Extra keyword arguments of the encoder.
        features: The resolved ``features`` section (with ``stats`` for ``normalize: dataset``).
        loss: ``barlow_twins`` or ``nt_xent``.
        lambda_param: Barlow Twins' off-diagonal weight.
        temperature: NT-Xent's temperature.
        projector: ``{"hidden_dim", "out_dim"}`` (``None`` values: the objective's defaults).
        views: Views per clip (>= 2).
        augment: ``task.augment`` entries (:func:`parse_augment`).
        optim: The ``optim`` section.
        seed: Seed of the per-step RNG and of the validation views.
        duration: Clip length in s.

    Raises:
        ParameterError: Unknown loss, model or augmentation; a model without embeddings.
    """

    def __init__(
        self,
        model: str,
        model_kwargs: dict[str, Any] | None = None,
        features: dict[str, Any] | None = None,
        loss: str = "barlow_twins",
        lambda_param: float = 5e-3,
        temperature: float = 0.1,
        projector: dict[str, Any] | None = None,
        views: int = 2,
        augment: list[Any] | None = None,
        optim: dict[str, Any] | None = None,
        seed: int = 0,
        duration: float | None = None,
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        if loss not in OBJECTIVES:
            raise unknown_choice("task.loss", loss, sorted(OBJECTIVES))
        if views < 2:
            raise ParameterError(f"task.views must be >= 2 (two views per clip at least), got {views}")
        self.optim = OptimConfig.model_validate(optim or {})
        self.input = input_config(features)
        self.seed, self.views, self.duration = seed, views, duration
        self.frontend: nn.Module = self.input.build()
        self.model = build_model(model, self.input, model_kwargs, 0, "a pre-trained encoder has no classifier")
        embed_dim = getattr(self.model, "embed_dim", None)
        if not isinstance(embed_dim, int):
            raise ParameterError(f"model {model!r} declares no embed_dim; a pre-trained encoder needs one")
        make_loss, projector_class, (hidden, out) = OBJECTIVES[loss]
        sizes = dict(projector or {})
        self.projector = projector_class(embed_dim, sizes.get("hidden_dim") or hidden, sizes.get("out_dim") or out)
        self.objective = make_loss({"lambda_param": lambda_param, "temperature": temperature})
        self.wave_augment, self.spec_augment = build_augmentations(list(augment or []), self.input.kind)

    @property
    def sample_rate(self) -> int:
        """Input sample rate in Hz (the input pipeline's)."""
        return int(self.input.sample_rate)

    def features(self, waveform: torch.Tensor) -> torch.Tensor:
        """The encoder's input for ``waveform`` ``(batch, n_samples)`` (front-end in float32).

        Raises:
            DataError: NaN or Inf samples.
        """
        return waveform_features(self.frontend, waveform)

    def model_inputs(self, waveform: torch.Tensor, device: torch.device | str | None = None) -> torch.Tensor:
        """The encoder's input for a fixed set of waveforms ``(N, n_samples)`` (the information plane's hook)."""
        return chunked_model_inputs(self, waveform, device)

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        """Clip embeddings ``(batch, embed_dim)`` of waveforms ``(batch, n_samples)`` (no augmentation)."""
        return self.model(self.features(waveform))

    def embed_views(self, waveform: torch.Tensor) -> list[torch.Tensor]:
        """Projected embeddings ``[(batch, out_dim)] * views`` of independently augmented views.

        Args:
            waveform: One crop per clip ``(batch, n_samples)``, augmented ``views`` times, or one
                crop per view ``(batch, views, n_samples)`` (``task.crops: separate``), view ``v``
                augmenting ``waveform[:, v]``.

        Raises:
            ParameterError: A batch of one clip (the objectives and the projector's BatchNorm need
                batch statistics); separate crops whose number is not ``views``.
        """
        if len(waveform) < 2:
            raise ParameterError(
                "self-supervised objectives compare the clips of a batch and need a batch of >= 2 clips, got 1; "
                "raise data.batch_size"
            )
        if waveform.ndim == 3 and waveform.shape[1] != self.views:
            raise ParameterError(
                f"a batch of separate crops {tuple(waveform.shape)} needs one crop per view (task.views {self.views})"
            )
        crops = waveform.unbind(1) if waveform.ndim == 3 else [waveform] * self.views
        shared = None
        if waveform.ndim == 2 and len(self.wave_augment) == 0:
            shared = self.features(waveform)  # one front-end pass (ABT)
        out = []
        for crop in crops:
            x = shared if shared is not None else self.features(self.wave_augment(crop))
            out.append(self.projector(self.model(self.spec_augment(x))))
        return out

    def objective_of(self, z: list[torch.Tensor]) -> torch.Tensor:
        """The objective averaged over every pair of views."""
        pairs = list(itertools.combinations(range(len(z)), 2))
        return sum(self.objective(z[a], z[b]) for a, b in pairs) / len(pairs)

    def on_train_batch_start(self, batch: Any, batch_idx: int) -> None:
        """Re-seed the RNG (``--resume`` continues exactly, up to the mixup memory)."""
        seed_step(self)

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> torch.Tensor:
        """The objective of a batch of clips (labels unused)."""
        loss = self.objective_of(self.embed_views(batch[0]))
        self.log("train_loss", loss, on_step=False, on_epoch=True, prog_bar=True, batch_size=len(batch[0]))
        return loss

    def _eval_loss(self, waveform: torch.Tensor, batch_idx: int) -> torch.Tensor:
        memories = [(m, m.memory) for m in self.spec_augment if isinstance(m, LogMixupExp)]
        augment_modes = [(m, m.training) for m in (self.wave_augment, self.spec_augment)]
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed * 1_000_003 + 104_729 * (batch_idx + 1))
            for module, _ in augment_modes:
                module.train()
            try:
                return self.objective_of(self.embed_views(waveform))
            finally:
                for module, mode in augment_modes:
                    module.train(mode)
                for module, memory in memories:
                    module.memory = memory

    def validation_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> None:
        """The objective on validation clips with per-batch seeded views."""
        if len(batch[0]) < 2:
            return  # a last batch of one clip has no batch statistics
        loss = self._eval_loss(batch[0], batch_idx)
        self.log("val_loss", loss, on_epoch=True, prog_bar=True, batch_size=len(batch[0]), sync_dist=True)

    def test_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> None:
        """The objective on test clips (as validation)."""
        if len(batch[0]) < 2:
            return
        loss = self._eval_loss(batch[0], batch_idx)
        self.log("test_loss", loss, on_epoch=True, batch_size=len(batch[0]), sync_dist=True)

    def configure_optimizers(self) -> dict[str, Any]:
        """The ``optim`` section's optimiser over the encoder and projector."""
        return configure_optimizers(self, self.optim, self.trainer)

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Stamp the checkpoint (task, encoder, embedding size, input pipeline)."""
        checkpoint["audiolens"] = {
            "task": "pretrain",
            "model": self.hparams.model,
            "loss": self.hparams.loss,
            "embed_dim": int(self.model.embed_dim),
            "features": self.input.to_dict(),
        }
