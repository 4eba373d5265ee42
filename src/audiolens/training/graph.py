"""Full-batch node classification on a citation graph (the information-plane paper's setting).

Paper: infoplane-gnn-mutual-information.md, sec. 3: MLP, GCN and GAT with hidden layers of
300, 200 and 100 units, trained full-batch (one parameter update per epoch) on Cora /
CiteSeer with the public Planetoid split (Cora: 140 training, 500 validation, 1000 test
nodes), 100 epochs on Cora.

- :class:`GraphDataModule` loads the graph (:func:`~audiolens.datasets.load_planetoid`,
  read-only root, processed files in the cache) and yields the whole graph as the single
  batch of every epoch, for training, validation and test alike; the split masks select the
  nodes each stage scores. Its :meth:`~GraphDataModule.tracked_set` gives the information
  plane's node sets: ``all`` (default; every node, eval mode), ``train``/``val``/``test``.
- :class:`NodeClassificationTask` trains any registered ``input_kind="graph"`` model with
  cross-entropy on the training nodes; it logs ``train_loss`` / ``train_accuracy`` (the
  training forward pass, dropout on, as the paper's figure 1) and ``val_*`` / ``test_*``
  (eval mode). Optimiser (:data:`NODE_OPTIM_DEFAULTS`, the ``optim`` defaults of
  ``task.type: node_classification``): Adam with L2 weight decay (Kipf & Welling's GCN recipe;
  lr 0.01, weight decay 5e-4 are the usual Cora values) at a constant rate
  (``warmup_epochs: 0``, ``min_lr_ratio: 1``).

The task plug-in (:mod:`audiolens.training.tasks.node_classification`) builds these for
``audiolens run``; its run folder is the audio task's (``metrics.json``,
``checkpoints/{best,last}.ckpt``, logs).
"""

from __future__ import annotations

import os
from typing import Any

import lightning as L
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader

from audiolens._internal.config import validate
from audiolens._internal.errors import DataError, ParameterError
from audiolens.datasets.planetoid import list_planetoid, load_ogbn_arxiv, load_planetoid
from audiolens.models import create_model, model_default_cfg
from audiolens.training.data import TrackedSet
from audiolens.training.optim import OptimConfig, configure_optimizers
from audiolens.training.task import seed_step, split_metrics

__all__ = ["GRAPH_DATASETS", "NODE_OPTIM_DEFAULTS", "GraphDataModule", "NodeClassificationTask"]

#: Graph datasets ``data.name`` accepts for node classification.
GRAPH_DATASETS = ("cora", "citeseer", "ogbn-arxiv")

#: The ``optim`` defaults of node classification (Kipf & Welling's recipe, constant rate).
NODE_OPTIM_DEFAULTS: dict[str, Any] = {
    "name": "adam",
    "lr": 0.01,
    "weight_decay": 5e-4,
    "warmup_epochs": 0.0,
    "min_lr_ratio": 1.0,
}


def _single(batch: list[Any]) -> Any:
    return batch[0]


class GraphDataModule(L.LightningDataModule):
    """One citation graph, served whole (full-batch) to every stage.

    Args:
        name: ``"cora"``, ``"citeseer"`` (Planetoid, public split) or ``"ogbn-arxiv"``.
        root: Folder holding ``<Name>/raw/`` for Planetoid (``None``: ``$AUDIOLENS_DATA/planetoid``),
            or the OGB root.

    Attributes:
        data: The :class:`torch_geometric.data.Data` graph after :meth:`setup` (``x``,
            ``edge_index``, ``y``, ``train_mask``, ``val_mask``, ``test_mask``).
        full_batch: Always true: one forward pass sees every node.

    Raises:
        ParameterError: Unknown dataset name (lists the valid ones).
        DataError: Missing or unreadable raw files (from the loaders).
    """

    full_batch = True
    #: The information plane's default tracked set: every node (eval mode).
    default_tracked = ("all",)

    def __init__(self, name: str, root: str | os.PathLike | None = None) -> None:
        super().__init__()
        key = str(name).lower()
        if key not in GRAPH_DATASETS:
            raise ParameterError(f"unknown graph dataset {name!r}; valid: {', '.join(GRAPH_DATASETS)}")
        self.name = key
        self.root = root
        self.data: Any = None

    def setup(self, stage: str | None = None) -> None:
        """Load the graph (once)."""
        if self.data is not None:
            return
        if self.name == "ogbn-arxiv":
            data = load_ogbn_arxiv(self.root)
        else:
            canonical = {n.lower(): n for n in list_planetoid()}[self.name]
            data = load_planetoid(canonical, self.root)
        if data.y.dim() > 1:
            data.y = data.y.view(-1)
        self.data = data

    @property
    def num_features(self) -> int:
        """Node feature size."""
        self.setup()
        return int(self.data.x.shape[1])

    @property
    def class_names(self) -> list[str]:
        """Class names (``"class 0"``, ... : the Planetoid files carry no names)."""
        self.setup()
        return [f"class {c}" for c in range(int(self.data.y.max()) + 1)]

    def split_sizes(self) -> dict[str, int]:
        """Nodes per split: ``{"train", "val", "test"}``."""
        self.setup()
        return {s: int(getattr(self.data, f"{s}_mask").sum()) for s in ("train", "val", "test")}

    def _loader(self) -> DataLoader:
        return DataLoader([self.data], batch_size=1, collate_fn=_single)

    def train_dataloader(self) -> DataLoader:
        """The whole graph, once per epoch."""
        return self._loader()

    def val_dataloader(self) -> DataLoader:
        """The whole graph (validation nodes scored)."""
        return self._loader()

    def test_dataloader(self) -> DataLoader:
        """The whole graph (test nodes scored)."""
        return self._loader()

    def tracked_set(self, name: str) -> TrackedSet:
        """Node set ``name`` (``all``, ``train``, ``val``, ``test``) for the information plane.

        Every node is computed (a GNN needs the whole graph); ``rows`` selects the tracked ones.

        Raises:
            ParameterError: Unknown name.
        """
        self.setup()
        if name == "all":
            rows, count = None, self.data.num_nodes
            labels = self.data.y
        elif name in ("train", "val", "test"):
            rows = getattr(self.data, f"{name}_mask")
            labels, count = self.data.y[rows], int(rows.sum())
        else:
            raise ParameterError(f"unknown tracked set {name!r}; valid: all, train, val, test")
        what = "all nodes" if name == "all" else f"the {name} nodes"
        return TrackedSet(self.data, labels, rows, f"{what} of {self.name}: {count} nodes", None)


class NodeClassificationTask(L.LightningModule):
    """Full-batch node classification with a registered graph model.

    Args:
        model: Registry name of an ``input_kind="graph"`` model (``graph_mlp``, ``gcn``, ``gat``).
        in_channels: Node feature size.
        class_names: Class names; their number sets ``num_classes``.
        model_kwargs: Extra keyword arguments (``hidden_channels``, ``activation``, ``dropout``, ...).
        optim: The ``optim`` section (:class:`~audiolens.training.optim.OptimConfig`) over
            :data:`NODE_OPTIM_DEFAULTS`.
        seed: Seed of the per-step RNG (dropout).

    Batches are the whole graph; outputs are logits ``(num_nodes, num_classes)``.

    Raises:
        ParameterError: Not a graph model, unknown optim keys, fewer than 2 classes.
    """

    def __init__(
        self,
        model: str,
        in_channels: int,
        class_names: list[str],
        model_kwargs: dict[str, Any] | None = None,
        optim: dict[str, Any] | None = None,
        seed: int = 0,
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        if len(class_names) < 2:
            raise ParameterError(f"node classification needs at least 2 classes, got {class_names}")
        if model_default_cfg(model).get("input_kind") != "graph":
            raise ParameterError(
                f"model {model!r} is not a graph model; node_classification takes graph_mlp, gcn or gat"
            )
        self.optim = validate(OptimConfig, {**NODE_OPTIM_DEFAULTS, **(optim or {})}, "optim")
        kwargs = dict(model_kwargs or {})
        for key in ("num_classes", "in_channels"):
            if key in kwargs:
                raise ParameterError(f"model.kwargs must not set {key}: it comes from the graph")
        self.class_names = list(class_names)
        self.num_classes = len(class_names)
        self.seed = seed
        self.model: nn.Module = create_model(model, in_channels=in_channels, num_classes=self.num_classes, **kwargs)
        self.metrics = split_metrics(self.num_classes)

    def model_inputs(self, data: Any, device: torch.device | str | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """``(x, edge_index)`` of the graph on ``device`` (the model's arguments)."""
        device = device or self.device
        return data.x.to(device), data.edge_index.to(device)

    def forward(self, x: torch.Tensor, edge_index: torch.Tensor) -> torch.Tensor:
        """Logits ``(num_nodes, num_classes)``."""
        return self.model(x, edge_index)

    def on_train_batch_start(self, batch: Any, batch_idx: int) -> None:
        """Re-seed the RNG from ``(seed, global_step)`` (dropout), so ``--resume`` is exact."""
        seed_step(self)

    def _scored(self, data: Any, split: str) -> tuple[torch.Tensor, torch.Tensor]:
        mask = getattr(data, f"{split}_mask")
        if not bool(mask.any()):
            raise DataError(f"the {split} split of the graph has no nodes")
        return self(data.x, data.edge_index)[mask], data.y[mask]

    def training_step(self, data: Any, batch_idx: int) -> torch.Tensor:
        """Cross-entropy on the training nodes (train mode: dropout on)."""
        logits, target = self._scored(data, "train")
        loss = F.cross_entropy(logits, target)
        accuracy = (logits.argmax(dim=-1) == target).float().mean()
        self.log("train_loss", loss, on_step=False, on_epoch=True, prog_bar=True, batch_size=1)
        self.log("train_accuracy", accuracy, on_step=False, on_epoch=True, prog_bar=True, batch_size=1)
        return loss

    def _eval_step(self, data: Any, split: str) -> None:
        logits, target = self._scored(data, split)
        self.log(f"{split}_loss", F.cross_entropy(logits, target), prog_bar=split == "val", batch_size=1)
        values = self.metrics[split](logits, target)
        self.log_dict(values, prog_bar=split == "val", batch_size=1)

    def validation_step(self, data: Any, batch_idx: int) -> None:
        """Loss, accuracy and macro-F1 on the validation nodes (eval mode)."""
        self._eval_step(data, "val")

    def test_step(self, data: Any, batch_idx: int) -> None:
        """Loss, accuracy and macro-F1 on the test nodes (eval mode)."""
        self._eval_step(data, "test")

    def configure_optimizers(self) -> dict[str, Any]:
        """The ``optim`` section's optimiser (Adam with L2 weight decay by default) and schedule."""
        return configure_optimizers(self, self.optim, self.trainer)

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Stamp the checkpoint with the task and model."""
        checkpoint["audiolens"] = {
            "task": "node_classification",
            "model": self.hparams.model,
            "class_names": self.class_names,
        }
