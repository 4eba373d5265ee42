"""Sonifier: deconvnet sonification against autograd, equivariance, batching, bad input."""

import pytest
import torch
from torch import nn

from audiolens import ParameterError
from audiolens.functional.sonification import scale_like
from audiolens.interpret import Sonifier
from audiolens.models import create_model


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return create_model("cnn12_small", num_classes=10).eval()


def _noise(n, seed=0):
    return torch.randn(n, generator=torch.Generator().manual_seed(seed)) * 0.3


class _DeconvReLU(torch.autograd.Function):
    """ReLU whose backward is a ReLU of the incoming gradient (the deconvnet rule, Zeiler & Fergus)."""

    @staticmethod
    def forward(ctx, x):
        return x.clamp_min(0)

    @staticmethod
    def backward(ctx, grad):
        return grad.clamp_min(0)


def _autograd_deconvnet(model, waveform, layer, feature_map):
    """An independent deconvnet: the gradient of the selected map's masked activations w.r.t. the input."""
    x = waveform.reshape(1, -1).clone().requires_grad_(True)
    h = x.unsqueeze(1)
    for block in model.blocks[:layer]:
        for module in block:
            h = _DeconvReLU.apply(h) if isinstance(module, nn.ReLU) else module(h)
    seed = torch.zeros_like(h)
    seed[:, feature_map] = h[:, feature_map].detach()
    (h * seed).sum().backward()
    return scale_like(x.grad, x.detach())[0]


@pytest.mark.parametrize("layer", [1, 2, 5, 9, 11])
def test_sonification_equals_an_autograd_deconvnet(model, layer):
    x = _noise(6001)
    sonifier = Sonifier(model)
    feature_map = int(sonifier.activations(x, layer)[0].argmax())  # the most active map
    ours = sonifier.sonify(x, layer, feature_map)
    reference = _autograd_deconvnet(model, x, layer, feature_map)
    assert ours.shape == x.shape and reference.abs().max() > 0
    torch.testing.assert_close(ours, reference, atol=1e-5 * x.abs().max().item(), rtol=0)
    assert ours.abs().max() == pytest.approx(x.abs().max().item(), rel=1e-6)  # scaled to max |x|


@pytest.mark.parametrize("n_samples", [512, 4000, 4001, 5123, 8191])
def test_output_length_equals_input_length(model, n_samples):
    sonifier = Sonifier(model)
    x = _noise(n_samples)
    for layer in (1, 4, 11):
        assert sonifier.sonify(x, layer, 0).shape == (n_samples,)
        assert sonifier.sonify(torch.stack([x, -x]), layer, 3).shape == (2, n_samples)
        assert sonifier.sonify_all(x, layer, [0, 1]).shape == (2, n_samples)


@pytest.mark.parametrize("layer", [1, 6, 11])
def test_sonify_all_equals_the_per_map_loop(model, layer):
    sonifier = Sonifier(model)
    x = _noise(4100, seed=1)
    batched = sonifier.sonify_all(x, layer, chunk_size=24)  # several chunks, the last one partial
    loop = torch.stack([sonifier.sonify(x, layer, k) for k in range(sonifier.n_maps(layer))])
    assert batched.shape == (sonifier.n_maps(layer), 4100)
    torch.testing.assert_close(batched, loop, atol=1e-5 * x.abs().max().item(), rtol=0)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
@pytest.mark.parametrize("layer", [1, 6, 11])
def test_sonification_on_cuda_equals_the_cpu_autograd_deconvnet(model, layer):
    x = _noise(6001, seed=2)
    flags = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False  # float32 as on the CPU
    try:
        gpu = Sonifier(create_model("cnn12_small", num_classes=10).cuda().eval())
        gpu.model.load_state_dict(model.state_dict())
        feature_map = int(gpu.activations(x, layer)[0].argmax())
        one = gpu.sonify(x.cuda(), layer, feature_map)
        every = gpu.sonify_all(x, layer, chunk_size=24)  # a CPU waveform goes to the model's device
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = flags
    assert one.device.type == "cuda" and every.device.type == "cuda"
    reference = _autograd_deconvnet(model, x, layer, feature_map)
    tolerance = {"atol": 1e-5 * x.abs().max().item(), "rtol": 0}
    torch.testing.assert_close(one.cpu(), reference, **tolerance)
    torch.testing.assert_close(every[feature_map].cpu(), reference, **tolerance)


def test_time_shift_by_the_pooling_factor_shifts_the_sonification(model):
    """Paper fig. B.3: x[n - k] gives s[n - k] for k a multiple of time_stride (away from the edges)."""
    stride, n = model.time_stride, 96 * model.time_stride
    burst = torch.zeros(n)
    burst[n // 2 - 4000 : n // 2 + 4000] = _noise(8000, seed=2)
    shift = 3 * stride
    shifted = torch.roll(burst, shift)
    sonifier = Sonifier(model)
    for layer in (3, 8, 11):
        k = int(sonifier.activations(burst, layer)[0].argmax())
        s, s_shifted = sonifier.sonify(burst, layer, k), sonifier.sonify(shifted, layer, k)
        interior = slice(24 * stride, n - 24 * stride)  # beyond the zero padding's reach (forward and back)
        assert s[interior].abs().max() > 0.5 * burst.abs().max()  # the peak lies inside
        difference = (torch.roll(s, shift)[interior] - s_shifted[interior]).abs().max()
        assert difference <= 1e-5 * s.abs().max(), (layer, float(difference))


def test_a_silent_map_and_a_silent_input_sonify_to_zeros(model):
    torch.manual_seed(0)
    silent = create_model("cnn12_small", num_classes=10).eval()
    with torch.no_grad():
        silent.blocks[3][0].bias[5] = -1e6  # map 5 of layer 4 never fires
    sonifier = Sonifier(silent)
    x = _noise(4000)
    assert sonifier.activations(x, 4)[0, 5] == 0
    out = sonifier.sonify(x, 4, 5)
    assert torch.equal(out, torch.zeros_like(out))
    zeros = Sonifier(model).sonify_all(torch.zeros(4000), 6, [0, 1, 2])
    assert torch.isfinite(zeros).all() and torch.equal(zeros, torch.zeros_like(zeros))


def _hook_count(model):
    return sum(len(m._forward_hooks) + len(m._forward_pre_hooks) + len(m._backward_hooks) for m in model.modules())


def test_bad_layers_maps_and_inputs_are_named_and_no_hooks_remain(model):
    sonifier = Sonifier(model)
    before = _hook_count(model)
    x = _noise(4000)
    for layer in (0, 12, True, 1.0):
        with pytest.raises(ParameterError, match="layer must be a block index in 1..11"):
            sonifier.sonify(x, layer, 0)
    with pytest.raises(ParameterError, match=r"feature_map must be in 0..15"):
        sonifier.sonify(x, 1, 16)
    with pytest.raises(ParameterError, match=r"feature maps must be in 0..127"):
        sonifier.sonify_all(x, 11, [0, 128])
    with pytest.raises(ParameterError, match="waveform must be float"):
        sonifier.sonify(torch.zeros(2, 2, 100), 1, 0)
    with pytest.raises(ParameterError, match="one waveform"):
        sonifier.sonify_all(torch.stack([x, x]), 1)
    sonifier.sonify(x, 2, 1)
    assert _hook_count(model) == before == 0


@pytest.mark.parametrize(
    ("block", "match"),
    [
        (nn.Sequential(nn.Conv1d(1, 4, 5, stride=2, padding=2), nn.ReLU()), "strided convolution"),
        (nn.Sequential(nn.Conv1d(1, 4, 5, padding=2), nn.BatchNorm1d(4), nn.ReLU()), "normalisation layer"),
        (nn.Sequential(nn.Conv1d(1, 4, 5, padding=2), nn.GELU()), "Conv1d -> ReLU -> \\[MaxPool1d\\]"),
        (nn.Sequential(nn.Conv1d(1, 4, 5, padding=2), nn.ReLU(), nn.AvgPool1d(2)), "only MaxPool1d"),
        (nn.Sequential(nn.Conv1d(1, 4, 5, padding="same"), nn.ReLU()), "integer padding"),
    ],
)
def test_models_that_cannot_be_sonified_are_refused_with_the_reason(block, match):
    with pytest.raises(ParameterError, match=match):
        Sonifier(nn.Module(), blocks=[block])


def test_a_model_without_blocks_is_refused():
    with pytest.raises(ParameterError, match="no `blocks`"):
        Sonifier(create_model("small_cnn_tiny", num_classes=3))


def test_mean_top_coherence_on_analytic_cases():
    from audiolens.interpret import mean_top_coherence

    g = torch.Generator().manual_seed(0)
    x = torch.randn(64000, generator=g)
    assert mean_top_coherence(x, -0.3 * x, 8000) == pytest.approx(1.0, abs=1e-9)  # a scaled copy
    # x + independent white noise of equal power: C(f) = 1 / (1 + 1) at every frequency
    assert mean_top_coherence(x, x + torch.randn(64000, generator=g), 8000, k=5) == pytest.approx(0.5, abs=0.12)
    assert mean_top_coherence(x, torch.randn(64000, generator=g), 8000) < 0.1  # independent
    assert mean_top_coherence(x, torch.zeros(64000), 8000) == 0.0  # a silent sonification


def test_layer_coherence_top_activating_and_removal(model):
    from audiolens.interpret import layer_coherence, removal_experiment, top_activating

    sonifier = Sonifier(model)
    inputs = [_noise(4096, seed=k) * (0.5 + k) for k in range(4)]
    rows = layer_coherence(sonifier, inputs, 8000, layers=[1, 11])
    assert [r["layer"] for r in rows] == [1, 11] and all(r["n"] == 4 for r in rows)
    assert all(0 <= r["ci_low"] <= r["mean_top5_coherence"] <= r["ci_high"] <= 1.0 + 1e-9 for r in rows)
    indices, values = top_activating(sonifier, inputs, 2, k=2)
    table = torch.stack([sonifier.maps(w, 2)[0].amax(dim=-1) for w in inputs], dim=1)
    assert indices.shape == (16, 2) and torch.equal(values, table.topk(2, dim=1).values)
    assert torch.equal(table.gather(1, indices), values)

    def classify(x):  # class 1 while the signal is the untouched input, 0 once something was subtracted
        return torch.tensor([[0.0, 1.0]]) if any(torch.equal(x[0], w) for w in inputs) else torch.tensor([[1.0, 0.0]])

    removal = removal_experiment(sonifier, classify, inputs, [1, 1, 1, 1], layers=[3])
    assert removal == [{"layer": 3, "metric": 0.0, "random_map_control": 0.0, "noise_control": 0.0,
                        "baseline": 1.0, "n": 4}]  # fmt: skip
