import pytest
import torch

from audiolens import ParameterError
from audiolens.models import (
    AudioTransformer,
    create_model,
    list_models,
    load_init_checkpoint,
    model_input_kinds,
)

TRANSFORMERS = list_models("cat_*") + list_models("ast_*")
MRMF = torch.randn(3, 2, 3, 32, 37, generator=torch.Generator().manual_seed(0))  # 37 frames: no window multiple


def _mrmf_model(name, **kwargs):
    torch.manual_seed(0)
    if name.startswith("ast"):
        kwargs = {"n_bins": 32, "n_resolutions": 3, "n_filters": 2, **kwargs}
    else:
        kwargs = {"n_bins": 32, **kwargs}
    return create_model(name, num_classes=5, **kwargs)


def test_registered_variants_and_input_kinds():
    assert set(TRANSFORMERS) == {"cat_tiny", "cat_small", "cat_base", "ast_tiny", "ast_small"}
    assert model_input_kinds("cat_tiny") == ("mrmf",)
    assert model_input_kinds("ast_tiny") == ("logmel", "mrmf")


@pytest.mark.parametrize("name", TRANSFORMERS)
def test_forward_shapes_gradients_and_uniform_interface(name):
    model = _mrmf_model(name, causal=True)
    logits, aux = model(MRMF, target=torch.tensor([0, 1, 2]))
    assert logits.shape == (3, 5) and set(aux) == {"reconstruction", "causal"}
    (logits.logsumexp(-1).sum() + aux["reconstruction"] + aux["causal"]).backward()
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    assert model.forward_features(MRMF).shape == (3, model.embed_dim)
    assert model.get_classifier() is model.classifier
    model.reset_classifier(7)
    model.eval()
    out = model(MRMF)
    assert isinstance(out, torch.Tensor) and out.shape == (3, 7) and model.num_classes == 7
    assert model.input_kind == "mrmf"


def test_parameter_counts_match_the_documented_sizes():
    counts = {n: sum(p.numel() for p in create_model(n, num_classes=50).parameters()) / 1e6 for n in TRANSFORMERS}
    assert 0.4 < counts["cat_tiny"] < 1.0 and 0.4 < counts["ast_tiny"] < 1.0
    assert 25 < counts["cat_base"] < 35  # Swin-T scale (HTS-AT: 28.8 M)


def test_ast_takes_logmel_patches():
    torch.manual_seed(0)
    model = create_model("ast_tiny", num_classes=4, n_mels=32)
    assert model.input_kind == "logmel" and model.patch_bins == 16
    assert model(torch.randn(2, 32, 50)).shape == (2, 4)
    with pytest.raises(ParameterError, match="not both"):
        create_model("ast_tiny", n_mels=32, n_bins=32)


def test_causal_module_switches_and_eval_without_targets():
    plain = _mrmf_model("cat_tiny", causal=False)
    plain.train()
    assert isinstance(plain(MRMF), torch.Tensor)
    causal = _mrmf_model("cat_tiny")
    causal.train()
    logits, aux = causal(MRMF)  # training without targets: the model's own prediction is the target
    assert torch.isfinite(aux["causal"])
    causal.eval()
    assert isinstance(causal(MRMF), torch.Tensor)
    _, aux = causal(MRMF, target=torch.tensor([0, 1, 2]))
    assert set(aux) == {"reconstruction", "causal"}
    one = causal(MRMF[:1], target=torch.tensor([0]))[1]
    assert one["causal"].item() == 0.0  # one sample: no counterfactual


def test_reconstruction_unfolds_merged_tokens_to_the_input_grid():
    model = _mrmf_model("cat_small")  # two merges: tokens cover 16 frames each
    tokens, normalised = model._encode(MRMF)
    assert model.reconstruct(tokens, MRMF.shape[-1]).shape == normalised.shape == MRMF.shape


def test_switches_change_the_attention():
    cat = _mrmf_model("cat_tiny")
    attn = cat.stages[0][1].attn
    assert attn.filter_split and attn.window == 4 and attn.shift == 2
    glob = _mrmf_model("cat_tiny", kernel="global", filter_split=False)
    assert glob.stages[0][1].attn.window is None and not glob.stages[0][1].attn.filter_split
    with pytest.raises(ParameterError, match="kernel"):
        _mrmf_model("cat_tiny", kernel="local")


def test_single_resolution_is_allowed():
    model = create_model("cat_tiny", num_classes=3, n_bins=32, n_resolutions=1)
    assert model.eval()(MRMF[:, :, :1]).shape == (3, 3)


@pytest.mark.parametrize(
    "x,match",
    [
        (torch.randn(2, 32, 37), "expected MRMF input"),
        (torch.randn(2, 2, 2, 32, 37), "K=3"),
        (torch.randn(2, 2, 3, 40, 37), "n_bins=32"),
        (torch.zeros(2, 2, 3, 32, 37, dtype=torch.long), "floating"),
    ],
)
def test_bad_input_is_named(x, match):
    with pytest.raises(ParameterError, match=match):
        _mrmf_model("cat_tiny")(x)


def test_init_checkpoint_adapts_classifier_bins_and_resolutions(tmp_path):
    source = create_model("cat_tiny", num_classes=10, n_bins=32, n_resolutions=2)
    path = tmp_path / "weights.pt"
    torch.save(source.state_dict(), path)
    target = create_model("cat_tiny", num_classes=4, n_bins=64, n_resolutions=3)
    report = load_init_checkpoint(target, path, strict=True, model_name="cat_tiny")
    assert set(report.adapted) >= {"classifier.weight", "classifier.bias", "patch_embed.weight", "pos_embed.g.weight"}
    assert "replaced" in report.adapted["classifier.weight"] and "interpolated" in report.adapted["patch_embed.weight"]
    assert not report.missing and not report.mismatched
    assert "adapted key(s)" in report.describe()
    # shared blocks loaded as they are; the time part of g copied, the new resolution's column kept
    torch.testing.assert_close(target.stages[1][0].mlp[0].weight, source.stages[1][0].mlp[0].weight)
    torch.testing.assert_close(target.pos_embed.g.weight[:, :66], source.pos_embed.g.weight)
    # a constant spectrum patch projects (about) as before: interpolation keeps the patch's response
    const_old = source.patch_embed.weight.sum(dim=1)
    const_new = target.patch_embed.weight.sum(dim=1)
    torch.testing.assert_close(const_new, const_old, atol=0.05 * const_old.abs().max().item(), rtol=0.1)
    # another architecture still fails strict loading with the keys named
    other = AudioTransformer(num_classes=4, n_bins=64, embed_dim=32, depths=(1,), num_heads=(2,))
    with pytest.raises(ParameterError, match="does not match"):
        load_init_checkpoint(other, path, strict=True, model_name="cat_tiny")


@pytest.mark.parametrize(
    "source_kwargs",
    [{"patch_frames": 3}, {"patch_frames": 3, "n_bins": 30}, {"patch_frames": 2, "n_bins": 64}],
)
def test_init_checkpoint_with_other_patch_frames_is_refused(tmp_path, source_kwargs):
    # (2 frames x 64 bins) has the same weight shape as (4 x 32): the layout, not the shape, decides.
    source = create_model("cat_tiny", num_classes=4, **{"n_bins": 32, **source_kwargs})
    path = tmp_path / "weights.pt"
    torch.save(source.state_dict(), path)
    target = create_model("cat_tiny", num_classes=4, n_bins=32)
    with pytest.raises(ParameterError, match="patch_frames"):
        load_init_checkpoint(target, path, strict=True, model_name="cat_tiny")


def test_eval_auxiliary_losses_are_reproducible_and_multilabel_is_refused():
    model = _mrmf_model("cat_tiny").eval()
    y = torch.tensor([0, 1, 2])
    assert torch.equal(model(MRMF, target=y)[1]["causal"], model(MRMF, target=y)[1]["causal"])
    with pytest.raises(ParameterError, match="multi-label"):
        model(MRMF, target=torch.tensor([[1.0, 1, 0, 0, 0]] * 3))
    with pytest.raises(ParameterError, match="class indices"):
        model(MRMF, target=torch.tensor([0, 1, 7]))
