"""Training: Lightning tasks, data modules, callbacks, evaluation, experiment runs, cross-validation."""

from audiolens.training.callbacks import INFOPLANE_COLUMNS, InformationPlane, MetricsHistory, write_infoplane_csv
from audiolens.training.data import (
    AudioDataModule,
    EpochSeededSampler,
    TrackedSet,
    WaveformDataset,
    decode_all,
    split_indices,
)
from audiolens.training.evaluate import (
    classification_metrics,
    confusion_matrix,
    evaluate_checkpoints,
    multilabel_metrics,
    predict_probabilities,
)
from audiolens.training.experiment import (
    TrainResult,
    cross_validate,
    fit_classifier,
    make_trainer,
    resolve_features,
    trainer_kwargs,
)
from audiolens.training.graph import GRAPH_DATASETS, GraphDataModule, NodeClassificationTask, fit_node_classifier
from audiolens.training.task import ClassificationTask, load_task, warmup_cosine_schedule

__all__ = [
    "GRAPH_DATASETS",
    "INFOPLANE_COLUMNS",
    "AudioDataModule",
    "ClassificationTask",
    "EpochSeededSampler",
    "GraphDataModule",
    "InformationPlane",
    "MetricsHistory",
    "NodeClassificationTask",
    "TrackedSet",
    "TrainResult",
    "WaveformDataset",
    "classification_metrics",
    "confusion_matrix",
    "cross_validate",
    "decode_all",
    "evaluate_checkpoints",
    "fit_classifier",
    "fit_node_classifier",
    "load_task",
    "make_trainer",
    "multilabel_metrics",
    "predict_probabilities",
    "resolve_features",
    "split_indices",
    "trainer_kwargs",
    "warmup_cosine_schedule",
    "write_infoplane_csv",
]
