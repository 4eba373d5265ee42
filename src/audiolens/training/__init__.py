"""Training: Lightning task, data module, callbacks, evaluation, experiment runs, cross-validation."""

from audiolens.training.callbacks import MetricsHistory
from audiolens.training.data import AudioDataModule, EpochSeededSampler, WaveformDataset, decode_all, split_indices
from audiolens.training.evaluate import (
    classification_metrics,
    confusion_matrix,
    evaluate_checkpoints,
    multilabel_metrics,
    predict_probabilities,
)
from audiolens.training.experiment import TrainResult, cross_validate, fit_classifier, resolve_features, trainer_kwargs
from audiolens.training.task import ClassificationTask, load_task

__all__ = [
    "AudioDataModule",
    "ClassificationTask",
    "EpochSeededSampler",
    "MetricsHistory",
    "TrainResult",
    "WaveformDataset",
    "classification_metrics",
    "confusion_matrix",
    "cross_validate",
    "decode_all",
    "evaluate_checkpoints",
    "fit_classifier",
    "load_task",
    "multilabel_metrics",
    "predict_probabilities",
    "resolve_features",
    "split_indices",
    "trainer_kwargs",
]
