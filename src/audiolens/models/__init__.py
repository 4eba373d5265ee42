"""Registered models (audio and graph, timm style): build them by name with :func:`create_model`.

Every spectrogram model (``input_kind == "logmel"``) takes a log-Mel batch
``(batch, n_mels, n_frames)`` (the front-end lives outside the model) and returns logits
``(batch, num_classes)``. Uniform interface: ``input_kind``, ``n_mels``, ``num_classes``,
``embed_dim``, ``min_frames``, ``forward_features``, ``forward_head``, ``get_classifier`` and
``reset_classifier``. ``forward`` may also return ``(logits, {name: auxiliary loss})``
(:func:`split_output`).

The ``model`` section of an experiment (:class:`ModelConfig`) adds initial weights
(:func:`load_init_checkpoint`, with per-model key filters) and freezing (:func:`freeze`).

``cat_tiny``, ``cat_small``, ``cat_base`` (input ``mrmf``) and ``ast_tiny``, ``ast_small``
(``logmel`` or ``mrmf``) are the Causal Audio Transformer and its AST-style baseline
(:mod:`audiolens.models.cat`); with the causal module they return auxiliary losses and
declare ``uses_targets = True``: the classification task then calls ``model(x, target=soft
targets)``.

The self-supervised encoders ``audiontt`` (BYOL-A v2's AudioNTT2022, 3072-d;
:mod:`audiolens.models.byol_a`) and ``vit_c``, ``vit_c_small``, ``vit_c_tiny`` (ViT with a
convolutional stem; :mod:`audiolens.models.vit`) default to ``num_classes=0``: no head, as in
timm, and ``forward`` returns the embedding (``accepts_no_head = True``).

The raw-waveform CNNs ``cnn12``, ``cnn12_x2`` and ``cnn12_small`` (input ``waveform``, 8 kHz;
:mod:`audiolens.models.cnn12`) are the sonification paper's encoders: stride-1 ``Conv1d -> ReLU
-> [MaxPool1d]`` blocks in ``model.blocks``, which :class:`audiolens.interpret.Sonifier` inverts.

``transcoder_cnn`` (input ``third_octave``) maps fast third-octave levels to a target log-Mel
(:mod:`audiolens.models.transcoder`).

The graph models ``graph_mlp``, ``gcn`` and ``gat`` (``input_kind == "graph"``, family
``"graph"``) take ``(x, edge_index)`` and return node logits ``(num_nodes, num_classes)``; see
:mod:`audiolens.models.graph`.

Example:
    >>> from audiolens.models import create_model, list_models
    >>> list_models("cnn1*")
    ['cnn10', 'cnn12', 'cnn12_small', 'cnn12_x2', 'cnn14']
    >>> list_models(module="pann")
    ['cnn10', 'cnn14', 'cnn6', 'resnet38']
    >>> model = create_model("small_cnn_tiny", num_classes=10)
"""

from audiolens.models import byol_a, cat, cnn12, graph, pann, small_cnn, transcoder, vit, yamnet  # noqa: F401 (import registers the models)
from audiolens.models._builder import (
    InitReport,
    ModelConfig,
    freeze,
    load_init_checkpoint,
    read_state_dict,
    split_output,
)
from audiolens.models._registry import (
    CONVERTERS,
    MODELS,
    create_model,
    is_model,
    list_models,
    list_modules,
    model_accepts,
    model_checkpoint_filter,
    model_default_cfg,
    model_entrypoint,
    model_family,
    model_input_kinds,
    register_converter,
    register_model,
)
from audiolens.models.byol_a import AudioNTT
from audiolens.models.cat import AudioTransformer
from audiolens.models.cnn12 import CNN12
from audiolens.models.graph import GAT, GCN, GraphMLP
from audiolens.models.pann import Cnn6, Cnn10, Cnn14, PannCnn, ResNet38
from audiolens.models.small_cnn import SmallCNN
from audiolens.models.vit import ViTC

__all__ = [
    "CONVERTERS",
    "MODELS",
    "AudioNTT",
    "AudioTransformer",
    "CNN12",
    "Cnn6",
    "Cnn10",
    "Cnn14",
    "GAT",
    "GCN",
    "GraphMLP",
    "InitReport",
    "ModelConfig",
    "PannCnn",
    "ResNet38",
    "SmallCNN",
    "ViTC",
    "create_model",
    "freeze",
    "is_model",
    "list_models",
    "list_modules",
    "load_init_checkpoint",
    "model_accepts",
    "model_checkpoint_filter",
    "model_default_cfg",
    "model_entrypoint",
    "model_family",
    "model_input_kinds",
    "read_state_dict",
    "register_converter",
    "register_model",
    "split_output",
]
