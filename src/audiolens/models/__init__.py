"""Registered models (audio and graph, timm style): build them by name with :func:`create_model`.

Every spectrogram model (``input_kind == "logmel"``) takes a log-Mel batch
``(batch, n_mels, n_frames)`` (the front-end lives outside the model) and returns logits
``(batch, num_classes)``. Uniform interface: ``input_kind``, ``n_mels``, ``num_classes``,
``embed_dim``, ``min_frames``, ``forward_features``, ``forward_head``, ``get_classifier`` and
``reset_classifier``.

The graph models ``graph_mlp``, ``gcn`` and ``gat`` (``input_kind == "graph"``, family
``"graph"``) take ``(x, edge_index)`` and return node logits ``(num_nodes, num_classes)``; see
:mod:`audiolens.models.graph`.

Example:
    >>> from audiolens.models import create_model, list_models
    >>> list_models("cnn*")
    ['cnn10', 'cnn14', 'cnn6']
    >>> model = create_model("small_cnn_tiny", num_classes=10)
"""

from audiolens.models import graph, pann, small_cnn  # noqa: F401 (import registers the models)
from audiolens.models._registry import (
    create_model,
    is_model,
    list_models,
    list_modules,
    model_default_cfg,
    model_entrypoint,
    model_family,
    register_model,
)
from audiolens.models.graph import GAT, GCN, GraphMLP
from audiolens.models.pann import Cnn6, Cnn10, Cnn14, PannCnn
from audiolens.models.small_cnn import SmallCNN

__all__ = [
    "Cnn6",
    "Cnn10",
    "Cnn14",
    "GAT",
    "GCN",
    "GraphMLP",
    "PannCnn",
    "SmallCNN",
    "create_model",
    "is_model",
    "list_models",
    "list_modules",
    "model_default_cfg",
    "model_entrypoint",
    "model_family",
    "register_model",
]
