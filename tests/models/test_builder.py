"""Initial weights (three file layouts, filters, mismatch reports), freezing, the auxiliary-loss contract."""

import pytest
import torch
from torch import nn

from audiolens import DataError, ParameterError
from audiolens.models import create_model, freeze, load_init_checkpoint, read_state_dict, split_output


def _small(**kw):
    return create_model("small_cnn_tiny", num_classes=kw.pop("num_classes", 5), n_mels=32, **kw)


def test_three_layouts_load_every_key(tmp_path):
    source = _small()
    raw, wrapped, ours = tmp_path / "raw.pt", tmp_path / "wrapped.pth", tmp_path / "ours.ckpt"
    torch.save(source.state_dict(), raw)
    torch.save({"model": source.state_dict(), "epoch": 3}, wrapped)
    torch.save(
        {
            "state_dict": {f"model.{k}": v for k, v in source.state_dict().items()}
            | {"frontend.window": torch.ones(4)},
            "audiolens": {"task": "classification"},
        },
        ours,
    )
    for path, layout in ((raw, "state_dict"), (wrapped, "model"), (ours, "audiolens")):
        target = _small()
        report = load_init_checkpoint(target, path, model_name="small_cnn_tiny")
        assert report.layout == layout and report.clean and len(report.loaded) == len(source.state_dict())
        for key, value in source.state_dict().items():
            assert torch.equal(target.state_dict()[key], value), key
    assert read_state_dict(ours)[1] == "audiolens" and "frontend.window" not in read_state_dict(ours)[0]


def test_mismatches_are_listed_and_non_strict_loads_the_rest(tmp_path):
    path = tmp_path / "ten.pt"
    state = _small(num_classes=10).state_dict()
    state["extra.weight"] = torch.zeros(2)
    torch.save(state, path)
    with pytest.raises(
        ParameterError, match=r"classifier.weight \(10, 64\) in the file vs \(5, 64\) in the model"
    ) as info:
        load_init_checkpoint(_small(), path, model_name="small_cnn_tiny")
    assert "1 unexpected key(s): extra.weight" in str(info.value) and "init_strict: false" in str(info.value)
    target = _small()
    before = target.classifier.weight.clone()
    report = load_init_checkpoint(target, path, strict=False, model_name="small_cnn_tiny")
    assert set(report.mismatched) == {"classifier.weight", "classifier.bias"} and report.unexpected == ["extra.weight"]
    assert torch.equal(target.classifier.weight, before)  # the new classifier keeps its initialisation
    assert torch.equal(target.stages[0].convs[0].weight, state["stages.0.convs.0.weight"])
    assert report.to_dict()["mismatched"]["classifier.bias"] == {"file": [10], "model": [5]}


def test_bad_files(tmp_path):
    with pytest.raises(DataError, match="not found"):
        load_init_checkpoint(_small(), tmp_path / "none.pt")
    (tmp_path / "junk.pt").write_bytes(b"junk")
    with pytest.raises(DataError, match="cannot read"):
        load_init_checkpoint(_small(), tmp_path / "junk.pt")
    torch.save({"weights": [1, 2]}, tmp_path / "odd.pt")
    with pytest.raises(DataError, match="not a weights file"):
        load_init_checkpoint(_small(), tmp_path / "odd.pt")
    torch.save(nn.Linear(3, 3).state_dict(), tmp_path / "other.pt")
    with pytest.raises(ParameterError, match="no key matches"):
        load_init_checkpoint(_small(), tmp_path / "other.pt", strict=False)


def test_pann_filter_drops_the_official_front_end_buffers(tmp_path):
    model = create_model("cnn6", num_classes=527)
    official = {
        "model": {
            **model.state_dict(),
            "spectrogram_extractor.stft.conv_real.weight": torch.zeros(1),
            "logmel_extractor.melW": torch.zeros(1),
        }
    }
    torch.save(official, tmp_path / "Cnn6.pth")
    report = load_init_checkpoint(create_model("cnn6", num_classes=527), tmp_path / "Cnn6.pth", model_name="cnn6")
    assert report.clean
    with pytest.raises(ParameterError, match="spectrogram_extractor"):  # without the model's filter they are unexpected
        load_init_checkpoint(create_model("cnn6", num_classes=527), tmp_path / "Cnn6.pth")


def test_freeze_patterns_and_batchnorm_statistics():
    model = _small()
    frozen = freeze(model, ["*", "!classifier*"])
    assert frozen and all(not n.startswith("classifier") for n in frozen)
    assert {n for n, p in model.named_parameters() if p.requires_grad} == {"classifier.weight", "classifier.bias"}
    bn = model.bn0
    stats = bn.running_mean.clone()
    model.train()
    model(torch.randn(4, 32, 40) * 5 + 3)
    assert torch.equal(bn.running_mean, stats) and not bn.training  # frozen norm layers keep their statistics
    partial = _small()
    names = freeze(partial, ["stages.0"])
    assert names and all(n.startswith("stages.0.") for n in names)
    with pytest.raises(ParameterError, match="matches no parameter; the model's modules are bn0, classifier, stages"):
        freeze(_small(), ["encoder.*"])


def test_split_output_contract():
    logits = torch.randn(2, 3)
    assert split_output(logits)[0] is logits and split_output(logits)[1] == {}
    aux = {"reconstruction": torch.tensor(0.5)}
    out, terms = split_output((logits, aux))
    assert out is logits and terms == aux
    with pytest.raises(ParameterError, match="logits or \\(logits, \\{name: scalar loss\\}\\)"):
        split_output({"logits": logits})
