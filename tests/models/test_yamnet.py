"""YAMNet against the layer list of tensorflow/models research/audioset/yamnet and the key names of
w-hc/torch_audioset (lists written from those definitions, not from our module)."""

import numpy as np
import pytest
import torch

from audiolens.models import create_model, load_init_checkpoint
from audiolens.models.yamnet import tf_same_pad

# yamnet.py _YAMNET_LAYER_DEFS: (kind, stride, filters); kernel 3x3 (pointwise 1x1)
DEFS = [("conv", 2, 32)] + [("sep", s, c) for s, c in [(1, 64), (2, 128), (1, 128), (2, 256), (1, 256), (2, 512),
        (1, 512), (1, 512), (1, 512), (1, 512), (1, 512), (2, 1024), (1, 1024)]]  # fmt: skip
BN = ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")


def official_keys():
    keys, cin = [], 1
    for i, (kind, _, cout) in enumerate(DEFS, start=1):
        convs = [("fused", (cout, cin, 3, 3))] if kind == "conv" else [
            ("depthwise_conv", (cin, 1, 3, 3)), ("pointwise_conv", (cout, cin, 1, 1))]  # fmt: skip
        for name, shape in convs:
            keys.append((f"layer{i}.{name}.conv.weight", shape))
            channels = shape[0]
            keys += [(f"layer{i}.{name}.bn.{k}", () if k == "num_batches_tracked" else (channels,)) for k in BN]
        cin = cout
    return keys + [("classifier.weight", (521, 1024)), ("classifier.bias", (521,))]


def test_keys_shapes_and_keras_parameter_count():
    model = create_model("yamnet")
    assert {k: tuple(v.shape) for k, v in model.state_dict().items()} == dict(official_keys())
    named = dict(model.named_parameters())
    keras = sum(p.numel() for n, p in named.items() if not n.endswith("bn.weight"))
    keras += sum(b.numel() for n, b in model.named_buffers() if n.endswith(("running_mean", "running_var")))
    assert keras == 3_751_369  # the Keras summary of the official model
    assert sum(p.numel() for p in model.parameters() if p.requires_grad) == 3_729_481  # BN has no scale


def test_batchnorm_is_yamnets():
    model = create_model("yamnet")
    norms = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert len(norms) == 27 and all(m.eps == 1e-4 and not m.weight.requires_grad for m in norms)


def test_tf_same_padding_puts_the_odd_pixel_at_the_end():
    x = torch.ones(1, 1, 96, 64)
    padded = tf_same_pad(x, 3, 2)  # ceil(96/2) = 48: total 1 -> 0 before, 1 after
    assert padded.shape == (1, 1, 97, 65)
    assert padded[0, 0, -1].abs().sum() == 0 and padded[0, 0, 0].sum() == 65 - 1
    assert tf_same_pad(x, 3, 1).shape == (1, 1, 98, 66)  # stride 1: one on each side


def test_patch_forward_and_converted_file_loads_strict(tmp_path):
    model = create_model("yamnet").eval()
    assert model(torch.randn(2, 64, 96)).shape == (2, 521)
    layer1 = model.layer1(torch.randn(1, 1, 96, 64))
    assert layer1.shape == (1, 32, 48, 32)
    state = {k: torch.randn(shape) if shape else torch.tensor(0) for k, shape in official_keys()}
    state.update({k: torch.ones_like(v) for k, v in state.items() if k.endswith("bn.weight")})
    torch.save(state, tmp_path / "yamnet.pt")
    report = load_init_checkpoint(model, tmp_path / "yamnet.pt", strict=True, model_name="yamnet")
    assert report.clean and report.layout == "state_dict"


def _keras_file(path, drop=None):
    # The official yamnet.h5 layout (Keras save_weights): datasets at 'layerK/conv/layerK/conv/kernel:0',
    # '.../bn/.../beta:0', moving_mean, moving_variance; depthwise_kernel; 'logits/logits/{kernel,bias}:0'.
    h5py = pytest.importorskip("h5py")
    rng = np.random.default_rng(0)
    arrays, cin = {}, 1
    for i, (kind, _, cout) in enumerate(DEFS, start=1):
        convs = [("conv", "kernel", (3, 3, cin, cout), cout)] if kind == "conv" else [
            ("depthwise_conv", "depthwise_kernel", (3, 3, cin, 1), cin),
            ("pointwise_conv", "kernel", (1, 1, cin, cout), cout)]  # fmt: skip
        for name, kernel, shape, channels in convs:
            base = f"layer{i}/{name}"
            arrays[f"{base}/{base}/{kernel}:0"] = rng.standard_normal(shape)
            for bn in ("beta", "moving_mean", "moving_variance"):
                arrays[f"{base}/bn/{base}/bn/{bn}:0"] = rng.random(channels) + 0.5
        cin = cout
    arrays["logits/logits/kernel:0"] = rng.standard_normal((1024, 521))
    arrays["logits/logits/bias:0"] = rng.standard_normal(521)
    if drop:
        del arrays[drop]
    with h5py.File(path, "w") as handle:
        for key, value in arrays.items():
            handle.create_dataset(key, data=value.astype(np.float32))
    return arrays


def test_keras_file_converts_and_loads_strict(tmp_path):
    from audiolens.cli.main import main

    arrays = _keras_file(tmp_path / "yamnet.h5")
    assert main(["models", "convert", "yamnet", str(tmp_path / "yamnet.h5"), "--out", str(tmp_path / "y.pt")]) == 0
    model = create_model("yamnet")
    report = load_init_checkpoint(model, tmp_path / "y.pt", strict=True, model_name="yamnet")
    assert report.clean
    keras = arrays["layer3/pointwise_conv/layer3/pointwise_conv/kernel:0"]  # (kh, kw, in, out)
    ours = model.layer3.pointwise_conv.conv.weight  # (out, in, kh, kw)
    assert ours[5, 7, 0, 0].item() == pytest.approx(float(keras[0, 0, 7, 5]), abs=1e-6)
    depth = arrays["layer2/depthwise_conv/layer2/depthwise_conv/depthwise_kernel:0"]  # (kh, kw, in, 1)
    assert model.layer2.depthwise_conv.conv.weight[3, 0, 1, 2].item() == pytest.approx(
        float(depth[1, 2, 3, 0]), abs=1e-6
    )
    torch.testing.assert_close(model.classifier.weight, torch.from_numpy(arrays["logits/logits/kernel:0"].T).float())
    assert (model.layer1.fused.bn.weight == 1).all()


def test_keras_file_with_a_missing_weight_is_named(tmp_path, capsys):
    from audiolens.cli.main import main

    _keras_file(tmp_path / "bad.h5", drop="layer5/depthwise_conv/bn/layer5/depthwise_conv/bn/moving_mean:0")
    assert main(["models", "convert", "yamnet", str(tmp_path / "bad.h5"), "--out", str(tmp_path / "y.pt")]) != 0
    assert "layer5/depthwise_conv/bn/layer5/depthwise_conv/bn/moving_mean:0" in capsys.readouterr().err
    assert not (tmp_path / "y.pt").exists()
