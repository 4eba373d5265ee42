import json
import math
from dataclasses import dataclass

import numpy as np
import pytest
import torch
from torch import nn

from audiolens import DataError, ParameterError
from audiolens.interpret import ActivationTracker, information_plane, load_activations


def _mlp():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Dropout(0.5), nn.Linear(8, 3))


class _CNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 2, 3, padding=1), nn.ReLU(), nn.Sequential(nn.Conv2d(2, 3, 3, padding=1), nn.ReLU())
        )
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.head = nn.Linear(3, 2)

    def forward(self, x):
        return self.head(self.pool(self.features(x)).flatten(1))


class _Raising(nn.Module):
    def forward(self, x):
        raise RuntimeError("boom")


class _DictOut(nn.Module):
    def forward(self, x):
        return {"logits": x}


@dataclass
class _Graph:  # stands in for a PyG Data object: an object with an .x tensor
    x: torch.Tensor


class _XOut(nn.Module):
    def forward(self, x):
        return _Graph(x * 2)


class _LSTMNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(4, 5, batch_first=True)
        self.head = nn.Linear(5, 2)

    def forward(self, x):
        out, _ = self.lstm(x)
        return self.head(out[:, -1])


def _no_hooks(model):
    return all(not m._forward_hooks and not m._forward_pre_hooks for m in model.modules())


def test_default_layers_mlp_and_nested_cnn():
    assert ActivationTracker(_mlp()).layer_names == ["0", "1", "2", "3"]
    names = ActivationTracker(_CNN()).layer_names
    assert names == ["features.0", "features.1", "features.2.0", "features.2.1", "pool", "head"]


def test_selection_by_name_type_and_mix():
    model = _mlp()
    assert ActivationTracker(model, ["3", "0"]).layer_names == ["0", "3"]  # model order
    assert ActivationTracker(model, [nn.Linear]).layer_names == ["0", "3"]
    assert ActivationTracker(model, ["1", nn.Linear]).layer_names == ["0", "1", "3"]
    assert ActivationTracker(_CNN(), nn.Conv2d).layer_names == ["features.0", "features.2.0"]
    with pytest.raises(ParameterError, match="no module of type LSTM"):
        ActivationTracker(model, [nn.LSTM])
    with pytest.raises(ParameterError, match="selects no module"):
        ActivationTracker(model, [])
    with pytest.raises(ParameterError, match="no child modules"):
        ActivationTracker(nn.Linear(2, 2))


def test_unknown_layer_lists_valid_names_and_leaves_no_hooks():
    model = _CNN()
    with pytest.raises(ParameterError, match="unknown layer 'feature'") as err:
        ActivationTracker(model, ["feature"])
    assert "features.2.0" in str(err.value) and "head" in str(err.value)
    assert _no_hooks(model)
    big = nn.Sequential(*[nn.ReLU() for _ in range(40)])
    with pytest.raises(ParameterError, match=r"\.\.\. \(10 more\)"):
        ActivationTracker(big, ["nope"])


def test_activation_shapes_and_values_match_manual_forward():
    model = _CNN().eval()
    x = torch.randn(5, 1, 4, 4)
    tracker = ActivationTracker(model)
    assert tracker.record(x) == 0
    with torch.no_grad():
        f0 = model.features[0](x)
        f2 = model.features[2](model.features[1](f0))
        pooled = model.pool(f2)
        expected = {
            "features.0": f0,
            "features.2.1": f2,
            "pool": pooled,
            "head": model.head(pooled.flatten(1)),
        }
    assert tracker.epoch_shapes(0)["features.0"] == (5, 2 * 16)
    for name, value in expected.items():
        got = tracker.activations(0, name)
        assert got.dtype == torch.float32 and got.shape == (5, value[0].numel())
        torch.testing.assert_close(got, value.reshape(5, -1))
    with pytest.raises(ParameterError, match="recorded epochs"):
        tracker.activations(3, "head")
    with pytest.raises(ParameterError, match="tracked layers"):
        tracker.activations(0, "nope")


def test_inplace_relu_does_not_corrupt_recorded_output():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(inplace=True))
    x = torch.randn(8, 3)
    tracker = ActivationTracker(model, ["0"])
    tracker.record(x)
    with torch.no_grad():
        torch.testing.assert_close(tracker.activations(0, "0"), model[0](x))
    assert (tracker.activations(0, "0") < 0).any()


def test_record_uses_eval_mode_restores_modes_and_batches():
    model = _mlp().train()
    model[0].eval()  # a mixed state must come back exactly
    x = torch.randn(11, 6)
    tracker = ActivationTracker(model)
    tracker.record(x)
    tracker.record(x, batch_size=4)
    assert tracker.epochs == [0, 1] and tracker.epoch_mode(0) == "eval"
    assert model.training and not model[0].training and model[2].training
    for name in tracker.layer_names:  # dropout off: identical, batching changes nothing
        torch.testing.assert_close(tracker.activations(0, name), tracker.activations(1, name))
    assert tracker.activations(1, "3").shape == (11, 3)
    assert tracker.record(x, epoch=10) == 10 and tracker.record(x) == 11
    with pytest.raises(ParameterError, match="already recorded"):
        tracker.record(x, epoch=10)
    with pytest.raises(ParameterError, match="batch_size"):
        tracker.record(x, batch_size=0)
    assert _no_hooks(model) and not tracker.hooks_active


def test_streaming_matches_memory_and_writes_files(tmp_path):
    model = _mlp()
    x = torch.randn(9, 6)
    mem = ActivationTracker(model)
    disk = ActivationTracker(model, store=tmp_path / "acts")
    for _ in range(2):
        mem.record(x, batch_size=5)
        disk.record(x, batch_size=5)
        with torch.no_grad():
            model[0].weight.add_(0.1)
    assert disk._memory == {}  # nothing kept in memory
    for epoch in (0, 1):
        for name in ["0", "1", "2", "3"]:
            assert (tmp_path / "acts" / f"epoch-{epoch:04d}" / f"{name}.npy").is_file()
            torch.testing.assert_close(disk.activations(epoch, name), mem.activations(epoch, name), rtol=0, atol=0)
    assert np.load(tmp_path / "acts" / "epoch-0001" / "3.npy").dtype == np.float32
    assert disk.save() == tmp_path / "acts" / "index.json"
    index = json.loads((tmp_path / "acts" / "index.json").read_text())
    assert index["layers"] == ["0", "1", "2", "3"]
    assert [e["epoch"] for e in index["epochs"]] == [0, 1]
    assert index["epochs"][0]["shapes"]["0"] == [9, 8] and index["epochs"][0]["mode"] == "eval"
    with pytest.raises(ParameterError, match="without a path"):
        disk.save(tmp_path / "other.pt")
    with pytest.raises(ParameterError, match="already holds"):
        ActivationTracker(model, store=tmp_path / "acts")
    # round trips: streamed folder and the in-memory .pt file
    saved = mem.save(tmp_path / "acts.pt")
    for loaded in (load_activations(tmp_path / "acts"), load_activations(saved)):
        assert list(loaded) == [0, 1]
        torch.testing.assert_close(loaded[1]["2"], mem.activations(1, "2"))


def test_listing1_training_loop_records_train_mode(tmp_path):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 3))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
    batches = [(torch.randn(4, 6), torch.randint(0, 3, (4,))) for _ in range(2)]
    tracker = ActivationTracker(model)
    with tracker:
        assert tracker.hooks_active
        for _ in range(2):
            for x, y in batches:
                optimizer.zero_grad()
                loss = nn.functional.cross_entropy(model(x), y)
                loss.backward()
                optimizer.step()
            tracker.register_new_epoch()
    assert not tracker.hooks_active and _no_hooks(model)
    assert tracker.epochs == [0, 1] and tracker.epoch_mode(1) == "train"
    assert tracker.activations(0, "2").shape == (8, 3)
    assert not torch.equal(tracker.activations(0, "0"), tracker.activations(1, "0"))  # weights moved
    # the listing's literal order: register at the start of an epoch, save at its end
    literal = ActivationTracker(model, ["2"])
    with literal:
        for _ in range(2):
            assert literal.register_new_epoch() is None
            model(batches[0][0])
            literal.save(tmp_path / "listing1.pt")
    assert literal.epochs == [0, 1]
    assert list(load_activations(tmp_path / "listing1.pt")) == [0, 1]
    # record() refuses to mix with pending training activations
    with tracker:
        model(batches[0][0])
        with pytest.raises(ParameterError, match="register_new_epoch"):
            tracker.record(batches[0][0])
    assert _no_hooks(model)


def test_hooks_removed_when_model_raises_in_record_and_with():
    model = nn.Sequential(nn.Linear(2, 2), _Raising()).train()
    tracker = ActivationTracker(model)
    with pytest.raises(RuntimeError, match="boom"):
        tracker.record(torch.randn(3, 2))
    assert _no_hooks(model) and model.training and not tracker.pending and tracker.epochs == []
    with pytest.raises(RuntimeError, match="boom"):
        with tracker:
            model(torch.randn(3, 2))
    assert _no_hooks(model) and not tracker.hooks_active


def test_nested_with_attach_detach():
    model = _mlp()
    tracker = ActivationTracker(model)
    with tracker:
        with tracker:
            pass
        assert tracker.hooks_active  # the inner block leaves the outer block's hooks
    assert _no_hooks(model)
    tracker.attach()
    tracker.attach()
    assert tracker.hooks_active
    tracker.detach()
    assert _no_hooks(model)
    with tracker:  # re-entering works
        model(torch.randn(2, 6))
    assert tracker.register_new_epoch() == 0 and _no_hooks(model)


def test_tuple_output_lstm_and_x_attribute_object():
    torch.manual_seed(0)
    model = _LSTMNet()
    x = torch.randn(3, 7, 4)
    tracker = ActivationTracker(model)
    tracker.record(x)
    with torch.no_grad():
        out, _ = model.lstm(x)
    assert tracker.activations(0, "lstm").shape == (3, 7 * 5)
    torch.testing.assert_close(tracker.activations(0, "lstm"), out.reshape(3, -1))
    x_model = nn.Sequential(nn.Linear(2, 2), _XOut())
    tracker = ActivationTracker(x_model)
    tracker.record(torch.randn(4, 2))
    torch.testing.assert_close(tracker.activations(0, "1"), tracker.activations(0, "0") * 2)


def test_dict_output_and_reused_module_raise_data_error():
    model = nn.Sequential(nn.Linear(2, 2), _DictOut()).train()
    tracker = ActivationTracker(model)
    with pytest.raises(DataError, match="layer '1' returned a dict"):
        tracker.record(torch.randn(3, 2))
    assert _no_hooks(model) and model.training and not tracker.pending

    class Reused(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1, self.fc2, self.act = nn.Linear(2, 2), nn.Linear(2, 2), nn.ReLU()

        def forward(self, x):
            return self.act(self.fc2(self.act(self.fc1(x))))

    reused = Reused()
    with pytest.raises(DataError, match="'act' ran more than once"):
        ActivationTracker(reused).record(torch.randn(3, 2))
    assert _no_hooks(reused)
    tracker = ActivationTracker(reused, ["fc1", "fc2"])
    tracker.record(torch.randn(3, 2))
    tracker.record(torch.randn(3, 2))  # the duplicate check is per forward pass, not per epoch
    assert tracker.activations(1, "fc2").shape == (3, 2)


@pytest.mark.filterwarnings("ignore:I\\(")
def test_information_plane_rows():
    model = _mlp()
    torch.manual_seed(1)
    x, labels = torch.randn(20, 6), torch.randint(0, 3, (20,))
    tracker = ActivationTracker(model)
    tracker.record(x)
    tracker.record(x)
    rows = information_plane(tracker, labels, noise_variances=(0.1, 1.0), bounds=("upper", "lower"))
    assert len(rows) == 2 * 4 * 2 * 2
    keys = {"epoch", "layer", "i_xz", "i_zy", "estimator", "bound", "noise_variance", "n_samples", "unit"}
    keys |= {"n_bins", "i_zy_shuffled", "i_xz_std", "i_zy_std"}
    assert all(set(r) == keys for r in rows)
    assert all(math.isfinite(r["i_xz"]) and math.isfinite(r["i_zy"]) for r in rows)
    assert all(r["n_samples"] == 20 and r["estimator"] == "kde" and r["unit"] == "bits" for r in rows)
    assert all(r["i_xz"] <= math.log2(20) + 1e-9 for r in rows)
    assert [r["layer"] for r in rows[:8:4]] == ["0", "1"]
    # the same setting alone: equal within float64 rounding (with others, rescaled from the widest's exponent)
    alone = information_plane(load_activations_from(tracker), labels)[0]["i_xz"]
    assert alone == pytest.approx(rows[0]["i_xz"], abs=1e-12)
    with pytest.raises(ParameterError, match="layer '0', epoch 0: labels must have shape"):
        information_plane(tracker, labels[:-1])
    with pytest.raises(ParameterError, match="no activations"):
        information_plane(ActivationTracker(model), labels)


def test_information_plane_rows_selection_binning_and_pop():
    model = _mlp()
    torch.manual_seed(2)
    x, labels = torch.randn(30, 6), torch.randint(0, 3, (30,))
    tracker = ActivationTracker(model)
    tracker.record(x, epoch=5)
    mask = torch.arange(30) < 12
    sub = information_plane(tracker, labels[mask], rows=mask, n_bootstrap=3, shuffled_baseline=True)
    direct = information_plane({5: {n: tracker.activations(5, n)[:12] for n in tracker.layer_names}}, labels[:12])
    assert [r["i_xz"] for r in sub] == pytest.approx([r["i_xz"] for r in direct], abs=1e-12)
    assert all(r["n_samples"] == 12 and r["i_xz_std"] >= 0 and math.isfinite(r["i_zy_shuffled"]) for r in sub)
    assert information_plane(tracker, labels[:12], rows=torch.arange(12))[0]["i_xz"] == sub[0]["i_xz"]
    binned = information_plane(tracker, labels, estimator="binning", n_bins=[5, 10])
    assert {(r["estimator"], r["n_bins"]) for r in binned} == {("binning", 5), ("binning", 10)}
    with pytest.raises(ParameterError, match="boolean rows mask"):
        information_plane(tracker, labels, rows=torch.ones(5, dtype=torch.bool))
    with pytest.raises(ParameterError, match="outside"):
        information_plane(tracker, labels, rows=torch.arange(40))
    popped = tracker.pop(5)
    assert list(popped) == tracker.layer_names and tracker.epochs == []
    assert tracker.record(x) == 6  # indices keep counting after a pop
    with pytest.raises(ParameterError, match="not recorded"):
        tracker.pop(5)


def load_activations_from(tracker):
    return {e: {name: tracker.activations(e, name) for name in tracker.layer_names} for e in tracker.epochs}


def test_torch_geometric_gcn_and_data_object():
    pyg_nn = pytest.importorskip("torch_geometric.nn")
    pyg_data = pytest.importorskip("torch_geometric.data")
    torch.manual_seed(0)

    class GCN(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1, self.act, self.conv2 = pyg_nn.GCNConv(3, 4), nn.ReLU(), pyg_nn.GCNConv(4, 2)

        def forward(self, x, edge_index):
            return self.conv2(self.act(self.conv1(x, edge_index)), edge_index)

    src = torch.arange(10)
    edge_index = torch.stack([torch.cat([src, (src + 1) % 10]), torch.cat([(src + 1) % 10, src])])
    x = torch.randn(10, 3)
    model = GCN()
    tracker = ActivationTracker(model)
    tracker.record((x, edge_index))
    assert tracker.epoch_shapes(0) == {"conv1": (10, 4), "act": (10, 4), "conv2": (10, 2)}
    assert _no_hooks(model)

    class DataModel(nn.Module):
        def __init__(self):
            super().__init__()
            self.gcn = model

        def forward(self, data):
            return self.gcn(data.x, data.edge_index)

    data = pyg_data.Data(x=x, edge_index=edge_index)
    tracker = ActivationTracker(DataModel(), ["gcn.conv2"])
    tracker.record(data)
    torch.testing.assert_close(tracker.activations(0, "gcn.conv2"), model.eval()(x, edge_index).detach())
    with pytest.raises(ParameterError, match="batch_size=None"):
        tracker.record(data, batch_size=5)


def test_transformer_encoder_layers_by_type_in_eval_and_train_mode():
    torch.manual_seed(3)
    layer = nn.TransformerEncoderLayer(d_model=16, nhead=2, dim_feedforward=32, batch_first=True, dropout=0.1)
    model = nn.Sequential(nn.Linear(4, 16), nn.TransformerEncoder(layer, num_layers=2, enable_nested_tensor=False))
    x = torch.randn(6, 5, 4)  # (batch, tokens, features)
    tracker = ActivationTracker(model, [nn.TransformerEncoderLayer])
    assert tracker.layer_names == ["1.layers.0", "1.layers.1"]
    tracker.record(x)
    model.eval()
    with torch.no_grad():
        expected = model[1].layers[0](model[0](x))
    assert torch.allclose(tracker.activations(0, "1.layers.0"), expected.reshape(6, -1), atol=1e-5)
    # train mode (listing 1): the attention module's tuple output gives its first tensor
    attention = ActivationTracker(model, ["1.layers.1.self_attn"])
    model.train()
    with attention:
        model(x)
    attention.register_new_epoch()
    assert attention.activations(0, "1.layers.1.self_attn").shape == (6, 5 * 16)
    assert _no_hooks(model)
    rows = information_plane(tracker, torch.arange(6) % 2)
    assert [r["layer"] for r in rows] == ["1.layers.0", "1.layers.1"]
