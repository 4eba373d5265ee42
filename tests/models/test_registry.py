import copy

import pytest
import torch

from audiolens._internal.errors import ParameterError
from audiolens.models import (
    _registry,
    create_model,
    is_model,
    list_models,
    list_modules,
    model_default_cfg,
    model_entrypoint,
    model_family,
)

ALL_MODELS = list_models()
# Cnn14 and ViT-C base have 80 M parameters: short input keeps the generic tests fast on 2 CPU cores
# (each Cnn14 case takes < 2 s, so none is marked slow).
N_FRAMES = {"cnn14": 64, "vit_c": 64}

_CACHE: dict[str, torch.nn.Module] = {}


# The generic tests below feed log-Mel batches: graph models (input_kind "graph") have their
# own tests in tests/models/test_graph.py.
MODEL_PARAMS = [n for n in ALL_MODELS if model_default_cfg(n).get("input_kind", "logmel") == "logmel"]


def _model(name: str) -> torch.nn.Module:
    """A fresh copy of a 3-class model (building Cnn14 once is the slow part)."""
    if name not in _CACHE:
        torch.manual_seed(0)
        _CACHE[name] = create_model(name, num_classes=3)
    return copy.deepcopy(_CACHE[name])


def _input(name, batch=2):
    torch.manual_seed(1)
    return torch.randn(batch, 64, N_FRAMES.get(name, 100))


def test_registry_lists_expected_models():
    assert {"cnn6", "cnn10", "cnn14", "small_cnn", "small_cnn_tiny"} <= set(ALL_MODELS)
    assert ALL_MODELS == sorted(ALL_MODELS)
    assert list_models("cnn*") == ["cnn10", "cnn12", "cnn12_small", "cnn12_x2", "cnn14", "cnn6"]
    assert list_models(module="cnn12") == ["cnn12", "cnn12_small", "cnn12_x2"]
    assert list_models("small_cnn*") == ["small_cnn", "small_cnn_tiny"]
    assert list_models(module="pann") == ["cnn10", "cnn14", "cnn6", "resnet38"]
    assert {"pann", "small_cnn"} <= set(list_modules())
    assert is_model("cnn14") and not is_model("cnn15")
    assert callable(model_entrypoint("small_cnn"))
    assert model_family("cnn6") == "pann"
    cfg = model_default_cfg("cnn14")
    assert cfg["sample_rate"] == 32000 and cfg["n_mels"] == 64 and cfg["num_classes"] == 527
    cfg["sample_rate"] = 1  # a copy: the registry is unchanged
    assert model_default_cfg("cnn14")["sample_rate"] == 32000


def test_unknown_model_lists_choices():
    with pytest.raises(ParameterError, match="unknown model 'cnn15'.*cnn14.*small_cnn"):
        create_model("cnn15")
    with pytest.raises(ParameterError, match="valid choices"):
        model_entrypoint("nope")
    with pytest.raises(ParameterError):
        model_default_cfg("nope")


def test_unknown_kwarg_lists_accepted():
    with pytest.raises(ParameterError, match="small_cnn_tiny.*widht.*accepted.*channels"):
        create_model("small_cnn_tiny", widht=3)


def test_constructor_type_error_becomes_parameter_error(monkeypatch):
    def broken(*, num_classes: int = 2):
        raise TypeError("boom")

    _registry.register_model(broken)
    try:
        with pytest.raises(ParameterError, match="'broken'.*boom.*accepted keyword arguments: num_"):
            create_model("broken")
    finally:
        _registry.MODELS.remove("broken")


@pytest.fixture
def scratch_models():
    before = set(_registry.MODELS.names())
    yield
    for name in set(_registry.MODELS.names()) - before:
        _registry.MODELS.remove(name)


def test_register_model_forms_and_duplicates(scratch_models):
    @_registry.register_model
    def my_test_model(*, num_classes: int = 2):
        return torch.nn.Linear(1, num_classes)

    @_registry.register_model(default_cfg={"a": 1})
    def my_test_model2(*, num_classes: int = 2):
        return torch.nn.Linear(1, num_classes)

    assert is_model("my_test_model") and model_default_cfg("my_test_model") == {}
    assert model_default_cfg("my_test_model2") == {"a": 1}
    assert model_family("my_test_model") == "test_registry"
    assert create_model("my_test_model2", num_classes=4).out_features == 4
    _registry.register_model(my_test_model)  # same function again: allowed (reload)

    def cnn14():
        return torch.nn.Identity()

    with pytest.raises(ParameterError, match="already registered"):
        _registry.register_model(cnn14)
    assert not is_model("cnn14") or _registry.model_entrypoint("cnn14").__module__ == "audiolens.models.pann"


@pytest.mark.parametrize("name", MODEL_PARAMS)
def test_model_interface(name):
    model = _model(name)
    assert model.input_kind == "logmel"
    assert model.n_mels == 64
    assert model.num_classes == 3
    assert isinstance(model.embed_dim, int)
    assert model.get_classifier().out_features == 3


@pytest.mark.parametrize("name", MODEL_PARAMS)
def test_model_forward_backward(name):
    model = _model(name).train()
    x = _input(name)
    out = model(x)
    assert out.shape == (2, 3)
    assert torch.isfinite(out).all()
    out.sum().backward()
    missing = [n for n, p in model.named_parameters() if p.requires_grad and p.grad is None]
    assert not missing, f"{name}: no grad for {missing}"


@pytest.mark.parametrize("name", MODEL_PARAMS)
def test_model_features_head_and_reset(name):
    model = _model(name).eval()
    x = _input(name)
    with torch.no_grad():
        feats = model.forward_features(x)
        assert feats.shape == (2, model.embed_dim)
        torch.testing.assert_close(model.forward_head(feats), model(x))
        model.reset_classifier(5)
        assert model.num_classes == 5
        assert model(x).shape == (2, 5)
        if getattr(model, "accepts_no_head", False):  # timm's num_classes=0: the embedding itself
            model.reset_classifier(0)
            torch.testing.assert_close(model(x), model.forward_features(x))
    with pytest.raises(ParameterError, match="num_classes"):
        model.reset_classifier(-1 if getattr(model, "accepts_no_head", False) else 0)


@pytest.mark.parametrize("name", MODEL_PARAMS)
def test_model_batch_consistency(name):
    model = _model(name).eval()
    x = _input(name, batch=3)
    with torch.no_grad():
        batched = model(x)
        single = torch.cat([model(x[i : i + 1]) for i in range(3)])
    torch.testing.assert_close(batched, single, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("name", MODEL_PARAMS)
def test_model_rejects_bad_shapes(name):
    model = _model(name).eval()
    with pytest.raises(ParameterError, match=r"expected \(batch, n_mels=64, n_frames\)"):
        model(torch.randn(64, 100))
    with pytest.raises(ParameterError, match="squeeze"):
        model(torch.randn(2, 1, 64, 100))
    with pytest.raises(ParameterError, match="n_mels=64.*got shape \\(2, 40, 100\\)"):
        model(torch.randn(2, 40, 100))
    with pytest.raises(ParameterError, match="transpose"):
        model(torch.randn(2, 100, 64))
    with pytest.raises(ParameterError, match=f"at least {model.min_frames} frames"):
        model(torch.randn(2, 64, model.min_frames - 1))
    with pytest.raises(ParameterError, match="floating"):
        model(torch.zeros(2, 64, 100, dtype=torch.long))
    with torch.no_grad():
        assert model(torch.randn(1, 64, model.min_frames)).shape == (1, 3)


@pytest.mark.parametrize("name", ["cnn6", "small_cnn_tiny"])
def test_create_model_other_n_mels(name):
    model = create_model(name, num_classes=2, n_mels=32).eval()
    with torch.no_grad():
        assert model(torch.randn(2, 32, 40)).shape == (2, 2)
    with pytest.raises(ParameterError, match="n_mels"):
        create_model(name, n_mels=4)
    with pytest.raises(ParameterError, match="num_classes"):
        create_model(name, num_classes=0)
