"""``task.type: pretrain``: self-supervised pre-training of an encoder (Audio Barlow Twins, SimCLR).

The data are any ``data`` section (``data.sources`` joins datasets; labels are never read, so
plain folders of audio work): every clip trains except a validation holdout
(``data.val_fraction`` or ``data.val_folds``), including a dataset's official test split;
``data.test_folds`` holds folds out explicitly. Clips are random crops of ``data.duration`` s
(ABT: 0.95 s), shorter clips zero-padded. The views of a clip come from one crop
(``task.crops: shared``, ABT and BYOL-A: the augmentations alone make them differ) or from
separate crops (``separate``: the sonification paper's SimCLR positives are non-overlapping
patches of a clip; :class:`~audiolens.training.data.WaveformDataset` gives the rules for clips too
short to hold them). Large corpora stream from WebDataset tar shards
(``audiolens data shard``): ``data.name: webdataset`` with ``data.root`` the shard folder
(:class:`~audiolens.training.ShardDataModule`; its last shards validate).

The module is :class:`~audiolens.training.pretrain.PretrainTask` (encoder at ``.model``, so
``model.init_checkpoint``, ``model.freeze`` and the information plane work on it). Its
checkpoints are stamped ``pretrain``: ``audiolens probe``, :mod:`audiolens.hear` and
``model.init_checkpoint`` of a classification run (``init_strict: false``, the classifier is
new) read them. Defaults follow ABT's convolutional recipe: LARS (lr 0.4 at batch 128, biases
x0.012, weight decay 1e-5), warm-up then cosine decay to 0.001 of the rate.
"""

from __future__ import annotations

from typing import Any, Literal

import lightning as L
from pydantic import Field

from audiolens._internal.config import Config, NonNegativeFloat, PositiveFloat, PositiveInt
from audiolens._internal.errors import ParameterError, unknown_choice
from audiolens.models import is_model, list_models
from audiolens.training.data import AudioDataModule, ShardDataModule, build_dataset, with_dataset_statistics
from audiolens.training.pretrain import OBJECTIVES, PretrainTask, build_augmentations
from audiolens.training.task import check_model_input
from audiolens.training.tasks import TaskPlugin, register_task

__all__ = ["SHARDS", "PretrainConfig", "PretrainPlugin", "ProjectorConfig"]

#: ``data.name`` of audio streamed from tar shards.
SHARDS = "webdataset"


class ProjectorConfig(Config):
    """``task.projector``: sizes of the projection head (``null``: the objective's, see the module doc).

    Attributes:
        hidden_dim: Hidden width (Barlow Twins 8192, SimCLR 512).
        out_dim: Output size (Barlow Twins 256, SimCLR 512).
    """

    hidden_dim: PositiveInt | None = None
    out_dim: PositiveInt | None = None


class PretrainConfig(Config):
    """The ``task`` section of ``type: pretrain``.

    Attributes:
        type: ``pretrain``.
        loss: ``barlow_twins`` (ABT) or ``nt_xent`` (SimCLR).
        lambda_param: Barlow Twins' off-diagonal weight (ABT: 5e-3).
        temperature: NT-Xent's temperature (the sonification paper: 0.1).
        projector: :class:`ProjectorConfig`.
        views: Views per clip.
        crops: ``shared`` (every view augments the same crop; ABT) or ``separate`` (one crop of
            ``data.duration`` per view, non-overlapping where the clip is long enough; the
            sonification paper's SimCLR).
        augment: Augmentations in order, each a name or ``{name: {options}}``: ``mixup``,
            ``rrc``, ``rlf``, ``gaussian_noise``, ``post_norm`` (log-Mel); ``gain``, ``noise``,
            ``time_mask``, ``mix_back`` (waveforms). Default: ABT's ``[mixup, rrc, rlf]``.
        monitor: ``val_loss`` (the objective on seeded validation views) or ``train_loss``.
    """

    type: Literal["pretrain"] = "pretrain"
    loss: str = "barlow_twins"
    lambda_param: NonNegativeFloat = 5e-3
    temperature: PositiveFloat = 0.1
    projector: ProjectorConfig = ProjectorConfig()
    views: int = Field(2, ge=2)
    crops: Literal["shared", "separate"] = "shared"
    augment: list[str | dict[str, dict[str, Any] | None]] = ["mixup", "rrc", "rlf"]
    monitor: str = "val_loss"


@register_task("pretrain")
class PretrainPlugin(TaskPlugin):
    """Self-supervised pre-training (see the module doc)."""

    config = PretrainConfig
    module_class = PretrainTask
    optim_defaults = {
        "name": "lars",
        "lr": 0.4,
        "weight_decay": 1e-5,
        "bias_lr_ratio": 0.012,
        "schedule": "warmup_cosine",
        "warmup_epochs": 1.0,
        "min_lr_ratio": 0.001,
    }
    #: Under DDP, BatchNorm statistics over the global batch (the Barlow Twins reference's SyncBatchNorm).
    trainer_defaults = {"sync_batchnorm": True}
    metric_modes = {"val_loss": "min", "train_loss": "min"}
    headline = ("val_loss", "train_loss")

    def check(self, exp: Any) -> None:
        """Loss, model, input kind, augmentations and dataset names (see :class:`TaskPlugin`)."""
        super().check(exp)
        if exp.task.loss not in OBJECTIVES:
            raise unknown_choice("task.loss", exp.task.loss, sorted(OBJECTIVES))
        if not is_model(exp.model.name):
            raise unknown_choice("model", exp.model.name, list_models())
        check_model_input(exp.model.name, exp.features)
        build_augmentations(exp.task.augment, exp.features.kind)
        self.check_dataset_names(exp, extra=(SHARDS,))
        if exp.data.name == SHARDS and (exp.data.test_folds or exp.data.val_folds or exp.data.root is None):
            raise ParameterError(
                "data.name webdataset streams a shard folder: set data.root to it (audiolens data shard --out); "
                "folds do not apply (its last shards validate, data.val_fraction of them)"
            )
        if exp.task.crops == "separate" and exp.data.duration is None:
            raise ParameterError(
                "task.crops: separate cuts one crop of data.duration per view: set data.duration "
                "(the sonification paper: 2.5 s patches of 10 s clips)"
            )
        if exp.data.name == SHARDS and exp.task.crops == "separate":
            raise ParameterError(
                "task.crops: separate needs the clips in memory; shards stream one crop per clip: "
                "use task.crops: shared, or data.sources over the audio instead of the shards"
            )
        if exp.data.batch_size < 2:
            raise ParameterError(
                f"data.batch_size {exp.data.batch_size}: self-supervised objectives compare the clips of a batch "
                "and need at least 2 (ABT: 128)"
            )

    def datamodule(self, exp: Any) -> AudioDataModule | ShardDataModule:
        """Every clip trains except the validation holdout (and ``data.test_folds``, when given).

        Raises:
            ParameterError: Shards at another sample rate than the front-end's.
        """
        data = exp.data
        if data.name == SHARDS:
            dm = ShardDataModule(
                data.root,
                batch_size=data.batch_size,
                duration=data.duration,
                val_fraction=data.val_fraction,
                seed=exp.seed,
                num_workers=data.num_workers,
            )
            if dm.sample_rate != exp.features.sample_rate:
                raise ParameterError(
                    f"the shards in {data.root} hold {dm.sample_rate} Hz audio, the front-end takes "
                    f"{exp.features.sample_rate} Hz; write them with --sample-rate {exp.features.sample_rate}"
                )
            return dm
        dataset = build_dataset(data, exp.features.sample_rate)
        dm = AudioDataModule(
            dataset,
            batch_size=data.batch_size,
            duration=data.duration,
            test_folds=data.test_folds,
            val_folds=data.val_folds,
            val_fraction=data.val_fraction,
            test_fraction=0.0 if not data.test_folds else data.test_fraction,
            seed=exp.seed,
            num_workers=data.num_workers,
            drop_last=True,
            crops=exp.task.views if exp.task.crops == "separate" else 1,
        )
        if not data.test_folds:  # an official test split is pre-training audio too
            dm.indices["train"] = sorted(dm.indices["train"] + dm.indices["test"])
            dm.indices["test"] = []
        return dm

    def build(self, exp: Any) -> tuple[L.LightningModule, L.LightningDataModule]:
        """A :class:`~audiolens.training.pretrain.PretrainTask` and its data module."""
        dm = self.datamodule(exp)
        task = exp.task
        module = PretrainTask(
            model=exp.model.name,
            model_kwargs=exp.model.kwargs,
            features=with_dataset_statistics(exp.features, dm).to_dict(),
            loss=task.loss,
            lambda_param=task.lambda_param,
            temperature=task.temperature,
            projector=task.projector.to_dict(),
            views=task.views,
            augment=task.augment,
            optim=exp.optim.to_dict(),
            seed=exp.seed,
            duration=dm.n_samples / dm.sample_rate,
        )
        return module, dm

    def has_test(self, datamodule: AudioDataModule | ShardDataModule) -> bool:
        """Whether ``data.test_folds`` held clips out."""
        return bool(datamodule.indices["test"])

    def sizes(self, datamodule: AudioDataModule | ShardDataModule) -> dict[str, int]:
        """Clips per split."""
        return {split: len(datamodule.indices[split]) for split in ("train", "val", "test")}
