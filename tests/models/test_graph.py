import copy

import pytest
import torch
from torch import nn

from audiolens._internal.errors import ParameterError
from audiolens.models import GAT, GCN, GraphMLP, create_model, list_models, model_default_cfg, model_family
from audiolens.models.graph import check_graph_input

GRAPH_MODELS = ["gat", "gcn", "graph_mlp"]
N_NODES, IN_CH, N_CLASSES = 12, 5, 3
SMALL = (12, 8, 4)  # hidden widths for the fast tests (all divisible by 4 heads)
HOOKED = ["layers.0", "layers.1", "layers.2", "classifier"]


def _graph(seed=0, n=N_NODES, in_ch=IN_CH):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, in_ch, generator=g)
    src = torch.randint(0, n, (30,), generator=g)
    dst = torch.randint(0, n, (30,), generator=g)
    edge_index = torch.cat([torch.stack([src, dst]), torch.stack([dst, src])], dim=1)  # undirected
    return x, edge_index


def _model(name, **kwargs):
    torch.manual_seed(0)
    kwargs = {"in_channels": IN_CH, "num_classes": N_CLASSES, "hidden_channels": SMALL, **kwargs}
    return create_model(name, **kwargs)


def test_registered_as_graph_family():
    assert list_models(module="graph") == GRAPH_MODELS
    for name in GRAPH_MODELS:
        assert model_family(name) == "graph"
        cfg = model_default_cfg(name)
        assert cfg["input_kind"] == "graph"
        assert cfg["hidden_channels"] == (300, 200, 100)


@pytest.mark.parametrize("name", GRAPH_MODELS)
def test_interface(name):
    model = _model(name)
    assert model.input_kind == "graph" == model_default_cfg(name)["input_kind"]
    assert model.in_channels == IN_CH and model.num_classes == N_CLASSES
    assert model.hidden_channels == SMALL and model.embed_dim == SMALL[-1]
    assert model.get_classifier() is model.classifier


@pytest.mark.parametrize("name", GRAPH_MODELS)
def test_paper_defaults(name):
    model = create_model(name, in_channels=IN_CH, num_classes=N_CLASSES)
    assert model.hidden_channels == (300, 200, 100)
    assert model.activation == "relu" and model.dropout == 0.5
    x, edge_index = _graph()
    model.eval()
    with torch.no_grad():
        outs = _record(model, x, edge_index)
    assert [outs[k].shape[1] for k in HOOKED] == [300, 200, 100, N_CLASSES]


@pytest.mark.parametrize("activation", ["relu", "tanh"])
@pytest.mark.parametrize("name", GRAPH_MODELS)
def test_forward_backward(name, activation):
    model = _model(name, activation=activation).train()
    x, edge_index = _graph()
    out = model(x, edge_index)
    assert out.shape == (N_NODES, N_CLASSES)
    assert torch.isfinite(out).all()
    out.sum().backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None]
    assert not missing, f"{name}: no grad for {missing}"
    act = nn.Tanh if activation == "tanh" else nn.ReLU
    assert all(isinstance(block.act, act) for block in model.layers)


@pytest.mark.parametrize("name", GRAPH_MODELS)
def test_eval_is_deterministic_and_features_head_consistent(name):
    model = _model(name).eval()
    x, edge_index = _graph()
    with torch.no_grad():
        out = model(x, edge_index)
        torch.testing.assert_close(model(x, edge_index), out)
        feats = model.forward_features(x, edge_index)
        assert feats.shape == (N_NODES, SMALL[-1])
        torch.testing.assert_close(model.forward_head(feats, edge_index), out)


def _record(model, x, edge_index):
    """Outputs of the hookable modules, found the way an activation tracker does."""
    modules = dict(model.named_modules())
    outs = {}
    handles = [
        modules[name].register_forward_hook(lambda m, i, o, name=name: outs.__setitem__(name, o)) for name in HOOKED
    ]
    try:
        logits = model(x, edge_index)
    finally:
        for h in handles:
            h.remove()
    outs["logits"] = logits
    return outs


def _tracker_names(module, prefix=""):
    """named_children, recursing into containers (ModuleList/Sequential/ModuleDict)."""
    names = []
    for name, child in module.named_children():
        full = f"{prefix}{name}"
        if isinstance(child, (nn.ModuleList, nn.Sequential, nn.ModuleDict)):
            names += _tracker_names(child, f"{full}.")
        else:
            names.append(full)
    return names


@pytest.mark.parametrize("activation", ["relu", "tanh"])
@pytest.mark.parametrize("name", GRAPH_MODELS)
def test_hookable_layers(name, activation):
    model = _model(name, activation=activation)
    assert set(HOOKED) <= set(dict(model.named_modules()))
    assert _tracker_names(model) == HOOKED
    x, edge_index = _graph()
    for mode in ("train", "eval"):
        getattr(model, mode)()
        outs = _record(model, x, edge_index)
        for i, width in enumerate(SMALL):
            z = outs[f"layers.{i}"]
            assert isinstance(z, torch.Tensor) and z.shape == (N_NODES, width)
            if activation == "relu":
                assert (z >= 0).all()  # post-activation, never dropped-out-and-rescaled into negatives
            else:
                assert (z.abs() <= 1).all()
        torch.testing.assert_close(outs["classifier"], outs["logits"])


@pytest.mark.parametrize("name", GRAPH_MODELS)
def test_hidden_output_is_not_dropped_out(name):
    # Dropout acts on block inputs, not on the tracked output: with a bias of 1, tanh never
    # gives an exact zero, whatever dropout removes from the input.
    model = _model(name, activation="tanh", dropout=0.9).train()
    with torch.no_grad():
        model.layers[0].layer.bias.fill_(1.0)
    x, edge_index = _graph()
    outs = _record(model, x, edge_index)
    assert (outs["layers.0"] != 0).all()


def test_mlp_ignores_graph():
    model = _model("graph_mlp").eval()
    x, edge_index = _graph()
    with torch.no_grad():
        out = model(x, edge_index)
        torch.testing.assert_close(model(x), out)
        torch.testing.assert_close(model(x, edge_index[:, :4]), out)
        # Each node's logits depend on its own features only.
        torch.testing.assert_close(model(x[:3]), out[:3])


@pytest.mark.parametrize("name", ["gcn", "gat"])
def test_graph_models_use_edges(name):
    model = _model(name).eval()
    x, edge_index = _graph()
    with torch.no_grad():
        with_edges = model(x, edge_index)
        no_edges = model(x, torch.empty(2, 0, dtype=torch.long))
    assert not torch.allclose(with_edges, no_edges)


def test_mlp_parameter_count_cora():
    model = create_model("graph_mlp", in_channels=1433, num_classes=7)
    sizes = [1433, 300, 200, 100, 7]
    expected = sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:]))
    assert expected == 511_207
    assert sum(p.numel() for p in model.parameters()) == expected


def test_gcn_parameter_count_matches_mlp():
    # GCNConv has one weight matrix and one bias per layer, as a Linear layer.
    mlp = create_model("graph_mlp", in_channels=IN_CH, num_classes=N_CLASSES, hidden_channels=SMALL)
    gcn = create_model("gcn", in_channels=IN_CH, num_classes=N_CLASSES, hidden_channels=SMALL)
    assert sum(p.numel() for p in gcn.parameters()) == sum(p.numel() for p in mlp.parameters())


def test_gat_heads_concatenate_to_hidden_width():
    model = _model("gat", heads=2, hidden_channels=(6, 4, 2))
    assert [(b.layer.heads, b.layer.out_channels, b.layer.concat) for b in model.layers] == [
        (2, 3, True),
        (2, 2, True),
        (2, 1, True),
    ]
    assert model.classifier.heads == 1 and model.classifier.out_channels == N_CLASSES
    assert create_model("gat", in_channels=IN_CH, num_classes=N_CLASSES).heads == 4
    with pytest.raises(ParameterError, match=r"divisible by heads=8.*fit: 1, 2, 4, 5, 10, 20, 25, 50, 100"):
        create_model("gat", in_channels=IN_CH, num_classes=N_CLASSES, heads=8)
    with pytest.raises(ParameterError, match="heads"):
        _model("gat", heads=0)
    with pytest.raises(ParameterError, match="attention_dropout"):
        _model("gat", attention_dropout=1.0)


@pytest.mark.parametrize("name", GRAPH_MODELS)
def test_bad_arguments(name):
    with pytest.raises(ParameterError, match=r"unknown activation 'gelu'; valid choices: relu, tanh"):
        _model(name, activation="gelu")
    with pytest.raises(ParameterError, match="hidden_channels"):
        _model(name, hidden_channels=())
    with pytest.raises(ParameterError, match="hidden_channels"):
        _model(name, hidden_channels=(4, 0, 4))
    with pytest.raises(ParameterError, match="in_channels"):
        _model(name, in_channels=0)
    with pytest.raises(ParameterError, match="num_classes"):
        _model(name, num_classes=-1)
    with pytest.raises(ParameterError, match="dropout"):
        _model(name, dropout=1.5)
    with pytest.raises(ParameterError, match="accepted keyword arguments"):
        _model(name, n_mels=64)


@pytest.mark.parametrize("name", GRAPH_MODELS)
def test_bad_inputs(name):
    model = _model(name).eval()
    x, edge_index = _graph()
    with pytest.raises(ParameterError, match=r"\(num_nodes, in_channels=5\).*got shape \(12, 4\)"):
        model(x[:, :4], edge_index)
    with pytest.raises(ParameterError, match="squeeze"):
        model(x.unsqueeze(0), edge_index)
    with pytest.raises(ParameterError, match="floating"):
        model(x.long(), edge_index)
    with pytest.raises(ParameterError, match="got list"):
        model(x.tolist(), edge_index)
    with pytest.raises(ParameterError, match=r"edge_index of shape \(2, num_edges\).*\.t\(\)"):
        model(x, edge_index.t())
    with pytest.raises(ParameterError, match=r"edge_index.*got shape \(120,\)"):
        model(x, edge_index.reshape(-1))
    with pytest.raises(ParameterError, match="torch.long.*got dtype torch.float32"):
        model(x, edge_index.float())
    with pytest.raises(ParameterError, match="x has 12 nodes"):
        model(x, edge_index + N_NODES)
    with pytest.raises(ParameterError, match="x has 12 nodes"):
        model(x, edge_index - N_NODES)


def test_gcn_and_gat_need_edges():
    x, _ = _graph()
    for name in ("gcn", "gat"):
        with pytest.raises(ParameterError, match="needs edge_index"):
            _model(name)(x)


def test_data_object_gets_a_hint():
    class FakeData:
        x = torch.zeros(2, 5)
        edge_index = torch.zeros(2, 0, dtype=torch.long)

    with pytest.raises(ParameterError, match=r"model\(data.x, data.edge_index\)"):
        check_graph_input(FakeData(), None, in_channels=5, model="GCN")


@pytest.mark.parametrize("name", GRAPH_MODELS)
def test_reset_classifier_and_parameters(name):
    model = _model(name).eval()
    x, edge_index = _graph()
    model.reset_classifier(6)
    assert model.num_classes == 6
    with torch.no_grad():
        assert model(x, edge_index).shape == (N_NODES, 6)
    with pytest.raises(ParameterError, match="num_classes"):
        model.reset_classifier(0)
    before = copy.deepcopy(model.state_dict())
    torch.manual_seed(123)
    model.reset_parameters()
    after = model.state_dict()
    changed = [k for k in before if not torch.equal(before[k], after[k])]
    assert any(k.startswith("layers.0") for k in changed)


def test_classes_exported():
    assert isinstance(_model("graph_mlp"), GraphMLP)
    assert isinstance(_model("gcn"), GCN)
    assert isinstance(_model("gat"), GAT)


def test_one_step_lowers_loss():
    # Full-batch training (the paper's setting) on a tiny separable graph: a few steps fit it.
    x, edge_index = _graph(seed=3)
    y = (x[:, 0] > 0).long()
    for name in GRAPH_MODELS:
        model = _model(name, num_classes=2, dropout=0.0)
        opt = torch.optim.Adam(model.parameters(), lr=0.01)
        losses = []
        for _ in range(5):
            opt.zero_grad()
            loss = nn.functional.cross_entropy(model(x, edge_index), y)
            loss.backward()
            opt.step()
            losses.append(loss.item())
        assert losses[-1] < losses[0], name
