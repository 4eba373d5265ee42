"""End to end: CAT on MRMF features through the engine, the AST baseline, and ensembles of different front-ends."""

import json

import pytest
import torch
import yaml

from audiolens.cli.main import main
from audiolens.datasets import create_dataset
from audiolens.training.evaluate import evaluate_checkpoints

FAST = {"max_epochs": 1, "enable_progress_bar": False, "enable_model_summary": False}
DATA = {
    "name": "synthetic",
    "kwargs": {"n_per_class": 8, "duration": 0.5, "seed": 0},
    "test_folds": [5],
    "batch_size": 8,
}
MRMF = {"type": "mrmf", "sample_rate": 8000, "n_bins": 32, "win_ms": [25, 50], "top_db": 80}


def _run(tmp_path, name, config):
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(config))
    return main(["run", str(path), "--out", str(tmp_path / name)])


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("cat")
    cat = {
        "data": DATA,
        "features": MRMF,
        "model": {"name": "cat_tiny"},
        "task": {
            "augment": {"mixup_alpha": 0.5},
            "class_weights": "balanced",
            "loss_weights": {"reconstruction": 1.0, "causal": 0.5},
        },
        "trainer": FAST,
    }
    assert _run(tmp, "cat", cat) == 0
    ast = {
        "data": {**DATA, "duration": 0.4},
        "features": {"preset": "pann", "sample_rate": 16000, "n_mels": 32},
        "model": {"name": "ast_tiny", "kwargs": {"causal": True}},
        "trainer": FAST,
    }
    assert _run(tmp, "ast", ast) == 0
    return tmp


def test_cat_trains_on_mrmf_with_its_auxiliary_losses(runs):
    run = runs / "cat"
    ckpt = torch.load(run / "checkpoints" / "best.ckpt", weights_only=False)
    features = ckpt["hyper_parameters"]["features"]
    assert features["type"] == "mrmf" and features["win_ms"] == [25.0, 50.0] and features["f_max"] == 4000.0
    final = json.loads((run / "metrics.json").read_text())["final"]
    assert {"val_causal_loss", "val_reconstruction_loss"} <= set(final)
    assert 0 < final["val_causal_loss"] < 9.3 and final["val_reconstruction_loss"] > 0
    resolved = yaml.safe_load((run / "config.yaml").read_text())
    assert resolved["features"]["n_bins"] == 32 and resolved["features"]["filters"] == ["mel", "linear"]


def test_ast_with_the_causal_switch_logs_the_same_terms(runs):
    final = json.loads((runs / "ast" / "metrics.json").read_text())["final"]
    assert {"val_causal_loss", "val_reconstruction_loss"} <= set(final)


def test_ensemble_of_different_front_ends_rates_and_durations(runs):
    cat, ast = runs / "cat" / "checkpoints" / "best.ckpt", runs / "ast" / "checkpoints" / "best.ckpt"
    dataset = create_dataset("synthetic", None, n_per_class=8, duration=0.5, seed=0)
    indices = [i for i, r in enumerate(dataset.records) if r.fold == 5]
    both, probs, targets = evaluate_checkpoints([cat, ast], dataset, indices)
    _, p_cat, _ = evaluate_checkpoints([cat], dataset, indices)
    _, p_ast, _ = evaluate_checkpoints([ast], dataset, indices)
    torch.testing.assert_close(probs, (p_cat + p_ast) / 2, atol=1e-6, rtol=1e-5)
    assert both["n"] == len(indices) == len(targets)
    assert not torch.allclose(p_cat, p_ast)  # the members really differ


def test_cat_refuses_log_mel_input(tmp_path, capsys):
    config = {"data": DATA, "features": {"preset": "pann", "sample_rate": 8000}, "model": {"name": "cat_tiny"}}
    assert _run(tmp_path, "bad", config) == 2
    assert "takes 'mrmf' input but features.type is 'logmel'" in capsys.readouterr().err
    assert not (tmp_path / "bad").exists()


def test_mrmf_settings_are_checked_before_the_run(tmp_path, capsys):
    too_many_bins = {**MRMF, "n_bins": 256}
    config = {"data": DATA, "features": too_many_bins, "model": {"name": "cat_tiny"}}
    assert _run(tmp_path, "bins", config) == 2
    assert "cover no FFT bin" in capsys.readouterr().err
    above_nyquist = {**MRMF, "f_max": 6000}
    assert _run(tmp_path, "nyq", {**config, "features": above_nyquist}) == 2
    assert "exceeds sample_rate / 2" in capsys.readouterr().err
    short = {**DATA, "duration": 0.05}  # 50 ms clips, 50 ms largest window: fine; 100 ms window: refused
    config = {"data": short, "features": {**MRMF, "win_ms": [25, 100]}, "model": {"name": "cat_tiny"}, "trainer": FAST}
    assert _run(tmp_path, "short", config) == 2
    assert "shorter than the largest window" in capsys.readouterr().err
