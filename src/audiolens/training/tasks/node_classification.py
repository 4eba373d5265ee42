"""``task.type: node_classification``: full-batch node classification of a citation graph.

The information-plane paper's setting (infoplane-gnn-mutual-information.md, sec. 3): a graph
model (``graph_mlp``, ``gcn``, ``gat``) on Cora / CiteSeer with the public Planetoid split (or
ogbn-arxiv), one parameter update per epoch. ``data.name`` names the graph and ``data.root``
its folder; folds, features and the audio data keys do not apply. Defaults: Adam with L2 weight
decay at a constant rate (:data:`~audiolens.training.graph.NODE_OPTIM_DEFAULTS`), 100 epochs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import lightning as L
import torch

from audiolens._internal.config import Config
from audiolens._internal.errors import ParameterError, unknown_choice
from audiolens.models import is_model, list_models, model_default_cfg
from audiolens.training.evaluate import EvaluateEntry, classification_metrics, confusion_matrix
from audiolens.training.graph import GRAPH_DATASETS, NODE_OPTIM_DEFAULTS, GraphDataModule, NodeClassificationTask
from audiolens.training.tasks import TaskPlugin, load_checkpoint, register_task

__all__ = ["NodeClassificationConfig", "NodeClassificationPlugin"]

_GRAPH_SPLITS = ("train", "val", "test", "all")
_AUDIO_ONLY_DATA_KEYS = ("sources", "sample_rate", "test_folds", "val_folds", "duration")


class NodeClassificationConfig(Config):
    """The ``task`` section of ``type: node_classification``.

    Attributes:
        type: ``node_classification``.
        monitor: ``val_loss`` (min), ``val_accuracy`` or ``val_macro_f1`` (max).
    """

    type: Literal["node_classification"] = "node_classification"
    monitor: str = "val_loss"


@register_task("node_classification")
class NodeClassificationPlugin(TaskPlugin):
    """Node classification (see the module doc)."""

    config = NodeClassificationConfig
    module_class = NodeClassificationTask
    uses_features = False
    optim_defaults = NODE_OPTIM_DEFAULTS
    trainer_defaults = {"max_epochs": 100, "log_every_n_steps": 1}
    metric_modes = {"val_loss": "min", "val_accuracy": "max", "val_macro_f1": "max"}
    headline = ("test_accuracy", "test_macro_f1", "val_accuracy")

    def check(self, exp: Any) -> None:
        """Graph dataset and graph model; no fold or audio settings (see :class:`TaskPlugin`)."""
        super().check(exp)
        data = exp.data
        if str(data.name).lower() not in GRAPH_DATASETS:
            raise unknown_choice("graph dataset (task.type node_classification)", data.name, GRAPH_DATASETS)
        if not is_model(exp.model.name):
            raise unknown_choice("model", exp.model.name, list_models())
        if model_default_cfg(exp.model.name).get("input_kind") != "graph":
            raise ParameterError(
                f"model {exp.model.name!r} is not a graph model; node_classification takes graph_mlp, gcn or gat"
            )
        given = [k for k in _AUDIO_ONLY_DATA_KEYS if getattr(data, k)] + (["split"] if data.split != "auto" else [])
        if given:
            raise ParameterError(
                f"data.{', data.'.join(given)} do not apply to node_classification: the graph's public split "
                "(train/val/test masks) is used; remove them"
            )

    def check_evaluate(self, entry: EvaluateEntry) -> None:
        """A graph dataset and a split of its nodes."""
        if str(entry.name).lower() not in GRAPH_DATASETS:
            raise unknown_choice("evaluate graph dataset", entry.name, GRAPH_DATASETS)
        if entry.split not in _GRAPH_SPLITS:
            raise ParameterError(
                f"evaluate entry {entry.output!r}: a graph's split is one of {', '.join(_GRAPH_SPLITS)}"
            )

    def build(self, exp: Any) -> tuple[L.LightningModule, L.LightningDataModule]:
        """A :class:`~audiolens.training.graph.NodeClassificationTask` and its :class:`GraphDataModule`."""
        dm = GraphDataModule(exp.data.name, exp.data.root)
        dm.setup()
        module = NodeClassificationTask(
            model=exp.model.name,
            in_channels=dm.num_features,
            class_names=dm.class_names,
            model_kwargs=exp.model.kwargs,
            optim=exp.optim.to_dict(),
            seed=exp.seed,
        )
        return module, dm

    def sizes(self, datamodule: GraphDataModule) -> dict[str, int]:
        """Nodes per split."""
        return datamodule.split_sizes()

    def after_fit(self, module: NodeClassificationTask, datamodule: GraphDataModule, fitted: Any) -> dict:
        """The last epoch's training and validation accuracy (the paper's figure 1 reads them)."""
        rows = fitted.history
        if rows and "train_accuracy" in rows[-1]:
            return {
                "train_accuracy_last_epoch": rows[-1]["train_accuracy"],
                "val_accuracy_last_epoch": rows[-1].get("val_accuracy"),
            }
        return {}

    def _scores(self, checkpoint: Path, name: str, root: str | None, split: str, device: str) -> dict[str, Any]:
        module = load_checkpoint(checkpoint, device)
        dm = GraphDataModule(name, root)
        dm.setup()
        if split not in _GRAPH_SPLITS:
            raise ParameterError(f"split of a graph must be one of {', '.join(_GRAPH_SPLITS)}, got {split!r}")
        if dm.num_features != module.hparams.in_channels:
            raise ParameterError(
                f"graph {name!r} has {dm.num_features} node features; the checkpoint's model takes "
                f"{module.hparams.in_channels}"
            )
        data = dm.data
        with torch.no_grad():
            x, edge_index = module.model_inputs(data, device=device)
            probs = torch.softmax(module(x, edge_index), dim=-1).cpu()
        mask = torch.ones(data.num_nodes, dtype=torch.bool) if split == "all" else getattr(data, f"{split}_mask")
        probs, targets = probs[mask], data.y[mask]
        return {
            **classification_metrics(probs, targets),
            "class_names": dm.class_names,
            "confusion": confusion_matrix(probs, targets).tolist(),
            "checkpoints": [str(checkpoint)],
            "dataset": name,
            "data_root": root,
            "split": split,
        }

    def evaluate_test(self, exp: Any, run_dir: Path, device: str) -> dict[str, Any] | None:
        """``best.ckpt`` on the test nodes, with the confusion matrix."""
        return self._scores(Path(run_dir) / "checkpoints" / "best.ckpt", exp.data.name, exp.data.root, "test", device)

    def evaluate(self, checkpoints: list[Path], entry: EvaluateEntry, device: str) -> dict[str, Any]:
        """One checkpoint on a graph's split (``test``, ``val``, ``train`` or ``all`` nodes)."""
        if len(checkpoints) != 1:
            raise ParameterError("node classification evaluates one checkpoint at a time")
        return self._scores(checkpoints[0], entry.name, entry.root, entry.split, device)
