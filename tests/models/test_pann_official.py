"""Official PANN checkpoints (Zenodo 3987831) against lists of keys and shapes from the reference code.

The lists are built from the layer definitions of qiuqiangkong/audioset_tagging_cnn
``pytorch/models.py`` (``ConvBlock``, ``_ResnetBasicBlock``, ``_ResNet._make_layer``, ``Cnn14``,
``ResNet38``), not from our modules, and the files are ``{"iteration", "model", "sampler"}``
dicts whose ``model`` holds torchlibrosa's front-end weights too.
"""

import pytest
import torch

from audiolens import ParameterError
from audiolens.models import create_model, load_init_checkpoint

BN = ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")
FRONT_END = {
    "spectrogram_extractor.stft.conv_real.weight": (513, 1, 1024),
    "spectrogram_extractor.stft.conv_imag.weight": (513, 1, 1024),
    "logmel_extractor.melW": (513, 64),
}


def _bn(prefix, channels):
    return [(f"{prefix}.{k}", () if k == "num_batches_tracked" else (channels,)) for k in BN]


def _conv_block(prefix, cin, cout):
    # ConvBlock: conv1 (3x3, no bias), conv2 (3x3, no bias), bn1, bn2
    return [
        (f"{prefix}.conv1.weight", (cout, cin, 3, 3)),
        (f"{prefix}.conv2.weight", (cout, cout, 3, 3)),
        *_bn(f"{prefix}.bn1", cout),
        *_bn(f"{prefix}.bn2", cout),
    ]


def _head(embed, classes=527):
    return [("fc1.weight", (embed, embed)), ("fc1.bias", (embed,)), ("fc_audioset.weight", (classes, embed)),
            ("fc_audioset.bias", (classes,))]  # fmt: skip


def official_cnn14():
    keys = _bn("bn0", 64)
    for i, (cin, cout) in enumerate(zip((1, 64, 128, 256, 512, 1024), (64, 128, 256, 512, 1024, 2048)), start=1):
        keys += _conv_block(f"conv_block{i}", cin, cout)
    return keys + _head(2048)


def official_resnet38():
    keys = _bn("bn0", 64) + _conv_block("conv_block1", 1, 64)
    inplanes = 64
    for layer, (blocks, planes) in enumerate(zip((3, 4, 6, 3), (64, 128, 256, 512)), start=1):
        for b in range(blocks):
            prefix = f"resnet.layer{layer}.{b}"
            cin = inplanes if b == 0 else planes
            keys += [(f"{prefix}.conv1.weight", (planes, cin, 3, 3)), *_bn(f"{prefix}.bn1", planes)]
            keys += [(f"{prefix}.conv2.weight", (planes, planes, 3, 3)), *_bn(f"{prefix}.bn2", planes)]
            if b == 0 and layer > 1:  # stride 2: downsample = AvgPool2d, conv1x1, BN -> indices 1 and 2
                keys += [
                    (f"{prefix}.downsample.1.weight", (planes, inplanes, 1, 1)),
                    *_bn(f"{prefix}.downsample.2", planes),
                ]
        inplanes = planes
    return keys + _conv_block("conv_block_after1", 512, 2048) + _head(2048)


OFFICIAL = {"cnn14": official_cnn14, "resnet38": official_resnet38}


@pytest.fixture(scope="module")
def models():
    return {name: create_model(name) for name in OFFICIAL}


@pytest.mark.parametrize("name", sorted(OFFICIAL))
def test_keys_and_shapes_equal_the_official_ones(name, models):
    ours = {k: tuple(v.shape) for k, v in models[name].state_dict().items()}
    assert ours == dict(OFFICIAL[name]())


def test_resnet38_parameter_count_is_the_published_one(models):
    # the spectral transcoder paper: "ResNet38 PANN model, which has 73,783,247 parameters"
    assert sum(p.numel() for p in models["resnet38"].parameters()) == 73_783_247


def _official_file(tmp_path, name, rename=None, drop=None):
    state = {k: torch.randn(shape) if shape else torch.tensor(0) for k, shape in OFFICIAL[name]()}
    state.update({k: torch.zeros(shape) for k, shape in FRONT_END.items()})
    if rename:
        state[rename[1]] = state.pop(rename[0])
    if drop:
        state.pop(drop)
    path = tmp_path / f"{name}.pth"
    torch.save({"iteration": 0, "model": state, "sampler": {}}, path)
    return path, state


@pytest.mark.parametrize("name", sorted(OFFICIAL))
def test_official_file_loads_strict(tmp_path, name, models):
    path, state = _official_file(tmp_path, name)
    model = models[name]
    report = load_init_checkpoint(model, path, strict=True, model_name=name)
    assert report.layout == "model" and report.clean and len(report.loaded) == len(OFFICIAL[name]())
    torch.testing.assert_close(model.fc_audioset.weight, state["fc_audioset.weight"])


@pytest.mark.parametrize(
    "change", [{"drop": "resnet.layer3.2.bn1.running_var"}, {"rename": ("fc1.weight", "fc.weight")}]
)
def test_missing_or_renamed_key_is_named(tmp_path, change):
    path, _ = _official_file(tmp_path, "resnet38", **change)
    key = change.get("drop") or change["rename"][0]
    with pytest.raises(ParameterError, match=key.replace(".", r"\.")):
        load_init_checkpoint(create_model("resnet38"), path, strict=True, model_name="resnet38")
