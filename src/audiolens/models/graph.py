r"""Node-classification models on graphs: MLP, GCN and GAT with hookable hidden layers.

The three architectures of "Mutual information estimation for graph convolutional neural
networks" (Landverk and Riemer-Sørensen), registered as ``graph_mlp`` (eq. 5), ``gcn``
(eq. 6) and ``gat`` (eq. 7): three hidden layers of 300, 200 and 100 units with ReLU or
tanh, trained full-batch on a citation graph (Cora, CiteSeer, ogbn-arxiv). The graph layers
are PyTorch Geometric's :class:`~torch_geometric.nn.conv.GCNConv` and
:class:`~torch_geometric.nn.conv.GATConv`.

Layout (the same for the three models, so that an information-plane tracker finds the same
names everywhere)::

    layers      nn.ModuleList of GraphBlock; layers.i = dropout -> layer -> activation
    classifier  the output layer (Linear, GCNConv or GATConv), logits

The output of ``layers.i`` is exactly the post-activation representation :math:`Z_{i+1}` of
hidden layer ``i`` (dropout acts on each block's *input*, so it never touches the tracked
output, in training or eval mode), and ``classifier`` returns the logits. A tracker that
hooks ``named_children`` and recurses into the ``ModuleList`` therefore sees ``layers.0``,
``layers.1``, ``layers.2`` and ``classifier``.

``torch_geometric`` is imported when a GCN or GAT is built, not when this module is
imported, so ``import audiolens.models`` stays fast for audio work.

Example:
    >>> from audiolens.models import create_model
    >>> model = create_model("gcn", in_channels=1433, num_classes=7)
    >>> logits = model(data.x, data.edge_index)  # (num_nodes, 7)  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from audiolens._internal.checks import positive_int, probability
from audiolens._internal.errors import ParameterError, unknown_choice
from audiolens.models._registry import register_model

__all__ = [
    "ACTIVATIONS",
    "GAT",
    "GCN",
    "GraphBlock",
    "GraphMLP",
    "check_graph_input",
    "gat",
    "gcn",
    "graph_mlp",
]

#: Activation names the graph models accept, and their modules.
ACTIVATIONS: dict[str, type[nn.Module]] = {"relu": nn.ReLU, "tanh": nn.Tanh}

_PAPER_HIDDEN = (300, 200, 100)
_CORA = {"in_channels": 1433, "num_classes": 7}


def check_graph_input(x: Any, edge_index: Any, *, in_channels: int, model: str, needs_edges: bool = True) -> None:
    """Check that ``(x, edge_index)`` is a node-feature matrix and a COO edge list a model can take.

    Args:
        x: Node features; expected shape ``(num_nodes, in_channels)``, floating.
        edge_index: Edges as ``(2, num_edges)`` ``torch.long`` node indices (source, target),
            or ``None`` when ``needs_edges`` is false.
        in_channels: Feature columns the model expects.
        model: Model (class) name, for the message.
        needs_edges: Whether ``edge_index`` is required (an MLP ignores it).

    Raises:
        ParameterError: If ``x`` is not a floating ``(num_nodes, in_channels)`` tensor, or
            ``edge_index`` is missing (when needed), not a ``(2, E)`` long tensor, or refers to
            a node outside ``[0, num_nodes)``.
    """
    expected = f"{model} expected node features x of shape (num_nodes, in_channels={in_channels})"
    if hasattr(x, "x") and hasattr(x, "edge_index"):
        raise ParameterError(f"{expected}, got a {type(x).__name__}; call model(data.x, data.edge_index)")
    if not isinstance(x, torch.Tensor):
        raise ParameterError(f"{expected}, got {type(x).__name__}")
    if x.ndim != 2:
        hint = " (drop the batch axis with x.squeeze(0))" if x.ndim == 3 and x.shape[0] == 1 else ""
        raise ParameterError(f"{expected}, got shape {tuple(x.shape)}{hint}")
    if x.shape[1] != in_channels:
        raise ParameterError(f"{expected}, got shape {tuple(x.shape)}")
    if not torch.is_floating_point(x):
        raise ParameterError(f"{expected} as a floating tensor, got dtype {x.dtype} (use x.float())")
    if edge_index is None:
        if needs_edges:
            raise ParameterError(f"{model} needs edge_index of shape (2, num_edges); got None")
        return
    expected_edges = f"{model} expected edge_index of shape (2, num_edges) and dtype torch.long"
    if not isinstance(edge_index, torch.Tensor):
        raise ParameterError(f"{expected_edges}, got {type(edge_index).__name__}")
    if edge_index.ndim != 2 or edge_index.shape[0] != 2:
        hint = ""
        if edge_index.ndim == 2 and edge_index.shape[1] == 2:
            hint = " (an (E, 2) edge list? use edge_index.t().contiguous())"
        raise ParameterError(f"{expected_edges}, got shape {tuple(edge_index.shape)}{hint}")
    if edge_index.dtype != torch.long:
        raise ParameterError(f"{expected_edges}, got dtype {edge_index.dtype} (use edge_index.long())")
    if edge_index.numel():
        low, high = int(edge_index.min()), int(edge_index.max())
        if low < 0 or high >= x.shape[0]:
            raise ParameterError(
                f"{model}: edge_index refers to nodes {low}..{high} but x has {x.shape[0]} nodes "
                f"(valid indices 0..{x.shape[0] - 1})"
            )


def _check_hidden(value: object) -> tuple[int, ...]:
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        raise ParameterError(f"hidden_channels must be a sequence of positive ints, got {value!r}")
    if not value:
        raise ParameterError("hidden_channels must not be empty")
    return tuple(positive_int("hidden_channels", c) for c in value)


def _check_activation(value: object) -> str:
    if not isinstance(value, str) or value.lower() not in ACTIVATIONS:
        raise unknown_choice("activation", value, ACTIVATIONS)
    return value.lower()


class GraphBlock(nn.Module):
    """One hidden layer: dropout (training only) on the input, ``layer``, activation.

    The block's output is the hidden representation (post-activation, never dropped out),
    which is what an activation tracker records when it hooks the block.

    Shapes:
        - input: ``x`` ``(num_nodes, in_channels)``, ``edge_index`` ``(2, num_edges)``
        - output: ``(num_nodes, out_channels)``

    Args:
        layer: The linear or graph layer (``nn.Linear``, ``GCNConv``, ``GATConv``).
        activation: ``"relu"`` or ``"tanh"``.
        dropout: Dropout probability on the block's input during training.
        uses_graph: Whether ``layer`` takes ``(x, edge_index)`` (graph layers) or ``x`` only.
    """

    def __init__(self, layer: nn.Module, activation: str, dropout: float, uses_graph: bool) -> None:
        super().__init__()
        self.dropout = dropout
        self.uses_graph = uses_graph
        self.layer = layer
        self.act = ACTIVATIONS[activation]()

    def forward(self, x: torch.Tensor, edge_index: torch.Tensor | None = None) -> torch.Tensor:
        """Apply dropout (training), the layer and the activation.

        Args:
            x: Node features, shape ``(num_nodes, in_channels)``.
            edge_index: Edges, shape ``(2, num_edges)``; ignored when ``uses_graph`` is false.

        Returns:
            The hidden representation, shape ``(num_nodes, out_channels)``.
        """
        x = F.dropout(x, p=self.dropout, training=self.training)
        x = self.layer(x, edge_index) if self.uses_graph else self.layer(x)
        return self.act(x)

    def extra_repr(self) -> str:
        """Dropout probability (the layer and activation print as children)."""
        return f"dropout={self.dropout}"


class _GraphNet(nn.Module):
    """Shared body of the graph models: hidden ``layers`` then ``classifier``."""

    input_kind = "graph"
    uses_graph = True

    def __init__(
        self,
        *,
        in_channels: int,
        num_classes: int,
        hidden_channels: Sequence[int],
        activation: str,
        dropout: float,
    ) -> None:
        super().__init__()
        self.in_channels = positive_int("in_channels", in_channels)
        self.num_classes = positive_int("num_classes", num_classes)
        self.hidden_channels = _check_hidden(hidden_channels)
        self.activation = _check_activation(activation)
        self.dropout = probability("dropout", dropout)
        self.embed_dim = self.hidden_channels[-1]

    def _build(self) -> None:
        """Create ``layers`` and ``classifier`` (after the subclass stored its own options)."""
        blocks = []
        width = self.in_channels
        for out in self.hidden_channels:
            blocks.append(GraphBlock(self._make_layer(width, out), self.activation, self.dropout, self.uses_graph))
            width = out
        self.layers = nn.ModuleList(blocks)
        self.classifier = self._make_classifier(self.embed_dim, self.num_classes)

    def _make_layer(self, in_channels: int, out_channels: int) -> nn.Module:
        raise NotImplementedError

    def _make_classifier(self, in_channels: int, num_classes: int) -> nn.Module:
        raise NotImplementedError

    def _check(self, x: Any, edge_index: Any) -> None:
        check_graph_input(
            x, edge_index, in_channels=self.in_channels, model=type(self).__name__, needs_edges=self.uses_graph
        )

    def _head(self, features: torch.Tensor, edge_index: torch.Tensor | None) -> torch.Tensor:
        features = F.dropout(features, p=self.dropout, training=self.training)
        if self.uses_graph:
            return self.classifier(features, edge_index)
        return self.classifier(features)

    def forward_features(self, x: torch.Tensor, edge_index: torch.Tensor | None = None) -> torch.Tensor:
        """Compute the last hidden representation of every node.

        Args:
            x: Node features, shape ``(num_nodes, in_channels)``, floating.
            edge_index: Edges, shape ``(2, num_edges)``, ``torch.long`` (ignored by the MLP).

        Returns:
            Output of the last hidden block, shape ``(num_nodes, hidden_channels[-1])``.

        Raises:
            ParameterError: If ``x`` or ``edge_index`` has the wrong shape or dtype.
        """
        self._check(x, edge_index)
        for block in self.layers:
            x = block(x, edge_index)
        return x

    def forward_head(self, features: torch.Tensor, edge_index: torch.Tensor | None = None) -> torch.Tensor:
        """Map the last hidden representation to logits (dropout in training, then ``classifier``).

        Args:
            features: Output of :meth:`forward_features`, shape ``(num_nodes, embed_dim)``.
            edge_index: Edges, shape ``(2, num_edges)`` (ignored by the MLP).

        Returns:
            Logits, shape ``(num_nodes, num_classes)``.
        """
        return self._head(features, edge_index)

    def forward(self, x: torch.Tensor, edge_index: torch.Tensor | None = None) -> torch.Tensor:
        """Compute node logits.

        Args:
            x: Node features, shape ``(num_nodes, in_channels)``, floating.
            edge_index: Edges, shape ``(2, num_edges)``, ``torch.long``; required by GCN and
                GAT, ignored (but checked when given) by the MLP.

        Returns:
            Logits, shape ``(num_nodes, num_classes)``.

        Raises:
            ParameterError: If ``x`` or ``edge_index`` has the wrong shape, dtype or node indices.
        """
        return self._head(self.forward_features(x, edge_index), edge_index)

    def get_classifier(self) -> nn.Module:
        """Return the output layer.

        Returns:
            ``classifier`` (``nn.Linear``, ``GCNConv`` or ``GATConv``).
        """
        return self.classifier

    def reset_classifier(self, num_classes: int) -> None:
        """Replace the output layer by a freshly initialised ``embed_dim -> num_classes`` one.

        Args:
            num_classes: New number of output logits.

        Raises:
            ParameterError: If ``num_classes`` is not a positive int.
        """
        self.num_classes = positive_int("num_classes", num_classes)
        ref = next(self.parameters())
        self.classifier = self._make_classifier(self.embed_dim, num_classes).to(device=ref.device, dtype=ref.dtype)

    def reset_parameters(self) -> None:
        """Re-initialise every layer (PyG convention)."""
        for block in self.layers:
            block.layer.reset_parameters()
        self.classifier.reset_parameters()

    def extra_repr(self) -> str:
        """Main hyper-parameters."""
        return (
            f"in_channels={self.in_channels}, num_classes={self.num_classes}, "
            f"hidden_channels={self.hidden_channels}, activation={self.activation!r}, dropout={self.dropout}"
        )


class GraphMLP(_GraphNet):
    r"""Multilayer perceptron on node features, the paper's reference model (eq. 5).

    From "Mutual information estimation for graph convolutional neural networks"
    (Landverk and Riemer-Sørensen), sec. 3.3. Each hidden layer is

    .. math::
        Z_{l+1} = \sigma(Z_l W_{l+1} + b_{l+1}),

    with :math:`\sigma` ReLU or tanh; every node is classified from its own features only
    (the graph is ignored), which is the paper's point of comparison for the inductive bias
    of the graph models.

    Shapes:
        - input: ``x`` ``(num_nodes, in_channels)``; ``edge_index`` optional and ignored
        - ``layers.i`` output: ``(num_nodes, hidden_channels[i])``
        - output: ``(num_nodes, num_classes)`` logits

    Args:
        in_channels: Node feature size (1433 for Cora, 3703 for CiteSeer, 128 for ogbn-arxiv).
        num_classes: Number of output logits.
        hidden_channels: Width of each hidden layer (paper: 300, 200, 100).
        activation: ``"relu"`` or ``"tanh"``.
        dropout: Dropout on the input of every layer during training.

    Raises:
        ParameterError: If an argument is out of range or ``activation`` is unknown
            (the message lists ``relu`` and ``tanh``).
    """

    uses_graph = False

    def __init__(
        self,
        *,
        in_channels: int = 1433,
        num_classes: int = 7,
        hidden_channels: Sequence[int] = _PAPER_HIDDEN,
        activation: str = "relu",
        dropout: float = 0.5,
    ) -> None:
        super().__init__(
            in_channels=in_channels,
            num_classes=num_classes,
            hidden_channels=hidden_channels,
            activation=activation,
            dropout=dropout,
        )
        self._build()

    def _make_layer(self, in_channels: int, out_channels: int) -> nn.Module:
        return nn.Linear(in_channels, out_channels)

    def _make_classifier(self, in_channels: int, num_classes: int) -> nn.Module:
        return nn.Linear(in_channels, num_classes)


class GCN(_GraphNet):
    r"""Graph convolutional network (Kipf and Welling) with PyG's ``GCNConv`` (paper eq. 6).

    From "Mutual information estimation for graph convolutional neural networks"
    (Landverk and Riemer-Sørensen), sec. 3.4. Each hidden layer is

    .. math::
        Z_{l+1}^n = \sigma\Big(\Big(\sum_{j \in \mathcal{N}(n) \cup \{n\}}
            \frac{1}{\sqrt{\hat d_j \hat d_n}} Z_l^j\Big) W_{l+1}\Big),
        \qquad \hat d_i = 1 + \sum_{j \in \mathcal{N}(i)} e_{ij},

    i.e. :class:`~torch_geometric.nn.conv.GCNConv` with self-loops and symmetric
    normalisation (its defaults, unit edge weights). The output layer is a ``GCNConv`` too.

    Shapes:
        - input: ``x`` ``(num_nodes, in_channels)``, ``edge_index`` ``(2, num_edges)`` long
        - ``layers.i`` output: ``(num_nodes, hidden_channels[i])``
        - output: ``(num_nodes, num_classes)`` logits

    Args:
        in_channels: Node feature size (1433 for Cora).
        num_classes: Number of output logits.
        hidden_channels: Width of each hidden layer (paper: 300, 200, 100).
        activation: ``"relu"`` or ``"tanh"``.
        dropout: Dropout on the input of every layer during training.

    Raises:
        ParameterError: If an argument is out of range or ``activation`` is unknown.
    """

    def __init__(
        self,
        *,
        in_channels: int = 1433,
        num_classes: int = 7,
        hidden_channels: Sequence[int] = _PAPER_HIDDEN,
        activation: str = "relu",
        dropout: float = 0.5,
    ) -> None:
        super().__init__(
            in_channels=in_channels,
            num_classes=num_classes,
            hidden_channels=hidden_channels,
            activation=activation,
            dropout=dropout,
        )
        self._build()

    def _make_layer(self, in_channels: int, out_channels: int) -> nn.Module:
        from torch_geometric.nn import GCNConv

        return GCNConv(in_channels, out_channels)

    def _make_classifier(self, in_channels: int, num_classes: int) -> nn.Module:
        return self._make_layer(in_channels, num_classes)


class GAT(_GraphNet):
    r"""Graph attention network (Veličković et al.) with PyG's ``GATConv`` (paper eq. 7).

    From "Mutual information estimation for graph convolutional neural networks"
    (Landverk and Riemer-Sørensen), sec. 3.5. Each hidden layer is

    .. math::
        Z_{l+1}^n = \sigma\Big(\Big(\sum_{j \in \mathcal{N}(n) \cup \{n\}} \alpha^{j,n} Z_l^j\Big) W_{l+1}\Big),

    with trainable, softmax-normalised attention scores :math:`\alpha^{j,n}`. Hidden layer
    ``i`` has ``heads`` attention heads of ``hidden_channels[i] // heads`` channels each,
    concatenated, so its width is exactly ``hidden_channels[i]`` (every hidden width must be
    divisible by ``heads``; the paper's 300/200/100 allow 1, 2, 4, 5, 10, 20, 25, 50 or 100
    heads, hence the default of 4). The output layer is a single-head ``GATConv``.

    Shapes:
        - input: ``x`` ``(num_nodes, in_channels)``, ``edge_index`` ``(2, num_edges)`` long
        - ``layers.i`` output: ``(num_nodes, hidden_channels[i])``
        - output: ``(num_nodes, num_classes)`` logits

    Args:
        in_channels: Node feature size (1433 for Cora).
        num_classes: Number of output logits.
        hidden_channels: Width of each hidden layer (paper: 300, 200, 100).
        activation: ``"relu"`` or ``"tanh"``.
        dropout: Dropout on the input of every layer during training.
        heads: Attention heads of every hidden layer.
        attention_dropout: Dropout on the attention coefficients during training
            (``GATConv``'s ``dropout``).

    Raises:
        ParameterError: If an argument is out of range, ``activation`` is unknown or a hidden
            width is not divisible by ``heads`` (the message lists the head counts that fit).
    """

    def __init__(
        self,
        *,
        in_channels: int = 1433,
        num_classes: int = 7,
        hidden_channels: Sequence[int] = _PAPER_HIDDEN,
        activation: str = "relu",
        dropout: float = 0.5,
        heads: int = 4,
        attention_dropout: float = 0.0,
    ) -> None:
        super().__init__(
            in_channels=in_channels,
            num_classes=num_classes,
            hidden_channels=hidden_channels,
            activation=activation,
            dropout=dropout,
        )
        self.heads = positive_int("heads", heads)
        self.attention_dropout = probability("attention_dropout", attention_dropout)
        bad = [h for h in self.hidden_channels if h % self.heads]
        if bad:
            fits = [h for h in range(1, min(self.hidden_channels) + 1) if all(c % h == 0 for c in self.hidden_channels)]
            raise ParameterError(
                f"GAT hidden widths {self.hidden_channels} must be divisible by heads={self.heads} "
                f"(each hidden layer concatenates heads of width // heads channels); "
                f"head counts that fit: {', '.join(map(str, fits))}"
            )
        self._build()

    def _make_layer(self, in_channels: int, out_channels: int) -> nn.Module:
        from torch_geometric.nn import GATConv

        return GATConv(
            in_channels, out_channels // self.heads, heads=self.heads, concat=True, dropout=self.attention_dropout
        )

    def _make_classifier(self, in_channels: int, num_classes: int) -> nn.Module:
        from torch_geometric.nn import GATConv

        return GATConv(in_channels, num_classes, heads=1, concat=False, dropout=self.attention_dropout)

    def extra_repr(self) -> str:
        """Main hyper-parameters."""
        return f"{super().extra_repr()}, heads={self.heads}, attention_dropout={self.attention_dropout}"


@register_model(default_cfg={"input_kind": "graph", **_CORA, "hidden_channels": _PAPER_HIDDEN})
def graph_mlp(
    *,
    in_channels: int = 1433,
    num_classes: int = 7,
    hidden_channels: Sequence[int] = _PAPER_HIDDEN,
    activation: str = "relu",
    dropout: float = 0.5,
) -> GraphMLP:
    """MLP on node features, hidden 300-200-100 (the paper's reference model, eq. 5).

    Args:
        in_channels: Node feature size (default: Cora's 1433).
        num_classes: Number of output logits (default: Cora's 7).
        hidden_channels: Width of each hidden layer.
        activation: ``"relu"`` or ``"tanh"``.
        dropout: Dropout on the input of every layer during training.

    Returns:
        A :class:`GraphMLP`.
    """
    return GraphMLP(
        in_channels=in_channels,
        num_classes=num_classes,
        hidden_channels=hidden_channels,
        activation=activation,
        dropout=dropout,
    )


@register_model(default_cfg={"input_kind": "graph", **_CORA, "hidden_channels": _PAPER_HIDDEN})
def gcn(
    *,
    in_channels: int = 1433,
    num_classes: int = 7,
    hidden_channels: Sequence[int] = _PAPER_HIDDEN,
    activation: str = "relu",
    dropout: float = 0.5,
) -> GCN:
    """GCN with PyG ``GCNConv`` layers, hidden 300-200-100 (paper eq. 6).

    Args:
        in_channels: Node feature size (default: Cora's 1433).
        num_classes: Number of output logits (default: Cora's 7).
        hidden_channels: Width of each hidden layer.
        activation: ``"relu"`` or ``"tanh"``.
        dropout: Dropout on the input of every layer during training.

    Returns:
        A :class:`GCN`.
    """
    return GCN(
        in_channels=in_channels,
        num_classes=num_classes,
        hidden_channels=hidden_channels,
        activation=activation,
        dropout=dropout,
    )


@register_model(default_cfg={"input_kind": "graph", **_CORA, "hidden_channels": _PAPER_HIDDEN})
def gat(
    *,
    in_channels: int = 1433,
    num_classes: int = 7,
    hidden_channels: Sequence[int] = _PAPER_HIDDEN,
    activation: str = "relu",
    dropout: float = 0.5,
    heads: int = 4,
    attention_dropout: float = 0.0,
) -> GAT:
    """GAT with PyG ``GATConv`` layers, hidden 300-200-100 (paper eq. 7).

    Args:
        in_channels: Node feature size (default: Cora's 1433).
        num_classes: Number of output logits (default: Cora's 7).
        hidden_channels: Width of each hidden layer; each must be divisible by ``heads``.
        activation: ``"relu"`` or ``"tanh"``.
        dropout: Dropout on the input of every layer during training.
        heads: Attention heads per hidden layer (concatenated, ``width // heads`` each).
        attention_dropout: Dropout on the attention coefficients during training.

    Returns:
        A :class:`GAT`.
    """
    return GAT(
        in_channels=in_channels,
        num_classes=num_classes,
        hidden_channels=hidden_channels,
        activation=activation,
        dropout=dropout,
        heads=heads,
        attention_dropout=attention_dropout,
    )
