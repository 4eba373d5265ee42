"""Training: Lightning tasks, task plug-ins, data modules, callbacks, evaluation.

- :mod:`~audiolens.training.tasks`: the task registry (:data:`TASKS`, ``task.type``), the
  :class:`TaskPlugin` base and :func:`load_checkpoint` for any task's checkpoints.
- Sections of an experiment owned here: :class:`DataConfig` (``data``), :class:`OptimConfig`
  (``optim``, with the :data:`OPTIMIZERS` and :data:`SCHEDULES` registries),
  :class:`TrainerConfig` (``trainer``), :class:`CheckpointConfig` (``checkpoint``),
  :class:`EvaluateEntry` (``evaluate`` entries).
- :class:`ClassificationTask` / :class:`NodeClassificationTask` (LightningModules),
  :class:`AudioDataModule` / :class:`GraphDataModule`, :class:`MetricsHistory` and the
  :class:`InformationPlane` callback, :func:`fit_with_history`.
"""

from audiolens.training.callbacks import INFOPLANE_COLUMNS, InformationPlane, MetricsHistory, write_infoplane_csv
from audiolens.training.data import (
    AudioDataModule,
    DataConfig,
    EpochSeededSampler,
    ShardDataModule,
    SourceConfig,
    TrackedSet,
    WaveformDataset,
    build_dataset,
    cv_folds,
    decode_all,
    split_indices,
    with_dataset_statistics,
)
from audiolens.training.evaluate import (
    EvaluateEntry,
    classification_metrics,
    confusion_matrix,
    evaluate_checkpoints,
    multilabel_metrics,
    predict_probabilities,
    select_split,
)
from audiolens.training.experiment import FittedRun, TrainResult, default_device, fit_with_history
from audiolens.training.graph import GRAPH_DATASETS, NODE_OPTIM_DEFAULTS, GraphDataModule, NodeClassificationTask
from audiolens.training.optim import (
    LARS,
    OPTIMIZERS,
    SCHEDULES,
    OptimConfig,
    configure_optimizers,
    lars_groups,
    warmup_cosine_schedule,
)
from audiolens.training.task import AugmentConfig, ClassificationTask, input_config, load_task, seed_step
from audiolens.training.tasks import TASKS, SubRun, TaskPlugin, load_checkpoint, read_checkpoint, register_task
from audiolens.training.trainer import CheckpointConfig, TrainerConfig, make_trainer

__all__ = [
    "GRAPH_DATASETS",
    "INFOPLANE_COLUMNS",
    "LARS",
    "NODE_OPTIM_DEFAULTS",
    "OPTIMIZERS",
    "SCHEDULES",
    "TASKS",
    "ShardDataModule",
    "AudioDataModule",
    "AugmentConfig",
    "ClassificationTask",
    "DataConfig",
    "EpochSeededSampler",
    "EvaluateEntry",
    "FittedRun",
    "GraphDataModule",
    "InformationPlane",
    "MetricsHistory",
    "NodeClassificationTask",
    "OptimConfig",
    "SourceConfig",
    "SubRun",
    "TaskPlugin",
    "TrackedSet",
    "TrainResult",
    "CheckpointConfig",
    "TrainerConfig",
    "WaveformDataset",
    "build_dataset",
    "classification_metrics",
    "configure_optimizers",
    "confusion_matrix",
    "cv_folds",
    "decode_all",
    "default_device",
    "evaluate_checkpoints",
    "fit_with_history",
    "input_config",
    "lars_groups",
    "load_checkpoint",
    "load_task",
    "make_trainer",
    "multilabel_metrics",
    "predict_probabilities",
    "read_checkpoint",
    "register_task",
    "seed_step",
    "select_split",
    "split_indices",
    "warmup_cosine_schedule",
    "with_dataset_statistics",
    "write_infoplane_csv",
]
