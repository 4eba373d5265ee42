"""End to end: fine-tuning from given weights with frozen parts, multi-label data, joined sources, waveform input."""

import json

import pytest
import torch
import yaml
from torch import nn

from audiolens._internal.errors import ParameterError
from audiolens.cli.main import main
from audiolens.models import MODELS, register_model
from audiolens.testing import make_folder, make_fsdd, make_multilabel_folder

FAST = {"max_epochs": 2, "enable_progress_bar": False, "enable_model_summary": False}
SYNTHETIC = {
    "name": "synthetic",
    "kwargs": {"n_per_class": 10, "duration": 0.5, "seed": 0},
    "test_folds": [5],
    "batch_size": 16,
}


def _write(tmp_path, name, config):
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def test_fine_tuning_keeps_frozen_parameters_bit_for_bit(tmp_path, capsys):
    base = {
        "data": SYNTHETIC,
        "features": {"preset": "pann", "sample_rate": 8000, "n_mels": 32},
        "model": {"name": "small_cnn_tiny"},
        "trainer": FAST,
    }
    assert main(["run", str(_write(tmp_path, "base", base)), "--out", str(tmp_path / "base")]) == 0
    source = tmp_path / "base" / "checkpoints" / "best.ckpt"
    tuned = {
        **base,
        "model": {"name": "small_cnn_tiny", "init_checkpoint": str(source), "freeze": ["*", "!classifier*"]},
        "optim": {"lr": 0.05},
        "seed": 3,
    }
    assert main(["run", str(_write(tmp_path, "tuned", tuned)), "--out", str(tmp_path / "tuned")]) == 0
    before = torch.load(source, weights_only=False)["state_dict"]
    after = torch.load(tmp_path / "tuned" / "checkpoints" / "last.ckpt", weights_only=False)["state_dict"]
    frozen = [k for k in before if k.startswith("model.") and not k.startswith("model.classifier")]
    assert frozen and all(torch.equal(before[k], after[k]) for k in frozen)  # parameters and BN statistics
    assert not torch.equal(before["model.classifier.weight"], after["model.classifier.weight"])
    init = json.loads((tmp_path / "tuned" / "init_checkpoint.json").read_text())
    assert init["layout"] == "audiolens" and not init["missing"] and not init["mismatched"]
    final = json.loads((tmp_path / "tuned" / "metrics.json").read_text())["final"]
    assert final["n_frozen_parameters"] > 0
    assert "Initial weights" in (tmp_path / "tuned" / "report.html").read_text()
    # mismatched keys are listed before training starts to matter
    other = {
        **tuned,
        "model": {"name": "small_cnn_tiny", "init_checkpoint": str(source), "kwargs": {"channels": [8, 16]}},
    }
    assert main(["run", str(_write(tmp_path, "other", other)), "--out", str(tmp_path / "other")]) == 2
    err = capsys.readouterr().err
    assert "does not match model small_cnn_tiny" in err and "shape-mismatched" in err and "init_strict: false" in err
    assert not (tmp_path / "other").exists()


def test_multilabel_folder_trains_with_map(tmp_path):
    root = make_multilabel_folder(tmp_path / "ml", n_per_combination=6, sample_rate=8000)
    config = {
        "data": {
            "name": "folder",
            "root": str(root),
            "kwargs": {"manifest": "labels.csv"},
            "test_folds": [2],
            "batch_size": 8,
        },
        "features": {"preset": "pann", "sample_rate": 8000, "n_mels": 32},
        "model": {"name": "small_cnn_tiny"},
        "task": {"monitor": "val_map"},
        "trainer": {**FAST, "max_epochs": 3},
    }
    run = tmp_path / "run"
    assert main(["run", str(_write(tmp_path, "ml", config)), "--out", str(run)]) == 0
    metrics = json.loads((run / "metrics.json").read_text())
    assert {"val_map", "val_micro_f1"} <= set(metrics["history"][0]) and 0 <= metrics["final"]["test_map"] <= 1
    test = json.loads((run / "eval" / "test.json").read_text())
    assert test["map"] == pytest.approx(metrics["final"]["test_map"]) and "confusion" not in test


def test_sources_join_datasets(tmp_path):
    a = make_folder(tmp_path / "a", classes=("cat", "dog"), n_per_class=6, sample_rate=8000, duration=0.3)
    b = make_folder(tmp_path / "b", classes=("dog", "owl"), n_per_class=6, sample_rate=8000, duration=0.3)
    config = {
        "data": {"sources": [{"name": "folder", "root": str(a)}, {"name": "folder", "root": str(b)}], "batch_size": 8},
        "features": {"preset": "pann", "sample_rate": 8000, "n_mels": 32},
        "model": {"name": "small_cnn_tiny"},
        "trainer": FAST,
    }
    run = tmp_path / "run"
    assert main(["run", str(_write(tmp_path, "src", config)), "--out", str(run)]) == 0
    test = json.loads((run / "eval" / "test.json").read_text())
    assert test["class_names"] == ["cat", "dog", "owl"] and test["dataset"] == "folder+folder"
    final = json.loads((run / "metrics.json").read_text())["final"]
    assert final["n_train"] + final["n_val"] + final["n_test"] == 24


class _WaveCNN(nn.Module):
    input_kind = "waveform"

    def __init__(self, num_classes: int = 2):
        super().__init__()
        self.features = nn.Sequential(nn.Conv1d(1, 8, 64, stride=16), nn.ReLU(), nn.AdaptiveAvgPool1d(1))
        self.classifier = nn.Linear(8, num_classes)

    def forward(self, x):
        return self.classifier(self.features(x.unsqueeze(1)).squeeze(-1))


@pytest.fixture
def wave_model():
    def wave_test_cnn(*, num_classes: int = 2):
        return _WaveCNN(num_classes)

    register_model(default_cfg={"input_kind": "waveform"})(wave_test_cnn)
    yield "wave_test_cnn"
    MODELS.remove("wave_test_cnn")


def test_waveform_input_pipeline_feeds_raw_audio(tmp_path, wave_model, capsys):
    config = {
        "data": SYNTHETIC,
        "features": {"type": "waveform", "sample_rate": 8000, "normalize": "peak"},
        "model": {"name": wave_model},
        "trainer": FAST,
    }
    run = tmp_path / "run"
    assert main(["run", str(_write(tmp_path, "wave", config)), "--out", str(run)]) == 0
    ckpt = torch.load(run / "checkpoints" / "best.ckpt", weights_only=False)
    assert ckpt["hyper_parameters"]["features"] == {"type": "waveform", "sample_rate": 8000, "normalize": "peak"}
    assert json.loads((run / "eval" / "test.json").read_text())["n"] == 16
    # a model and an input pipeline that do not fit are refused before the run starts
    assert (
        main(
            [
                "run",
                str(_write(tmp_path, "mismatch", {**config, "features": {"preset": "pann"}})),
                "--out",
                str(tmp_path / "m"),
            ]
        )
        == 2
    )
    assert "takes 'waveform' input but features.type is 'logmel'" in capsys.readouterr().err


def test_a_source_can_keep_one_official_split(tmp_path):
    from audiolens.training.data import DataConfig, build_dataset

    fsdd = make_fsdd(tmp_path / "fsdd", speakers=("alice", "bob"), n_per_digit=7, digits=(0, 1))
    folder = make_folder(tmp_path / "f", classes=("cat", "dog"), n_per_class=3, sample_rate=8000, duration=0.1)
    sources = [{"name": "fsdd", "root": str(fsdd), "split": "train"}, {"name": "folder", "root": str(folder)}]
    dataset = build_dataset(DataConfig(sources=sources), 8000)
    names = sorted(r.id for r in dataset.records if r.split is not None)
    assert len(dataset) == 2 * 2 * 2 + 6 and all(n.endswith(("_5", "_6")) for n in names)  # indices 0-4 are test
    bad = DataConfig(sources=[{"name": "folder", "root": str(folder), "split": "test"}])
    with pytest.raises(ParameterError, match=r"data.sources\[0\].split='test': dataset 'folder' has no such records"):
        build_dataset(bad, 8000)
