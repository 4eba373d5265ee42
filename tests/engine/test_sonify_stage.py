"""The ``sonify`` stage and ``audiolens sonify --dataset``: coherence, removal, evolution, examples, report."""

import csv
import json
import re

import numpy as np
import pytest
import torch
import yaml

from audiolens._internal.errors import ParameterError
from audiolens.cli.main import main
from audiolens.engine.stages.sonify import SonifyConfig, epoch_checkpoints, sonify_dataset
from audiolens.interpret import Sonifier, mean_top_coherence
from audiolens.testing import save_checkpoint, seeded_classifier
from audiolens.training.probe import load_encoder_checkpoint

WAVE = {"type": "waveform", "sample_rate": 8000, "normalize": "peak"}
CONFIG = {
    "data": {
        "name": "synthetic",
        "kwargs": {"n_per_class": 6, "duration": 0.5, "seed": 0},
        "test_folds": [5],
        "batch_size": 16,
    },  # fmt: skip
    "features": WAVE,
    "model": {"name": "cnn12_small"},
    "optim": {"lr": 0.001},
    "trainer": {"max_epochs": 3, "enable_progress_bar": False, "enable_model_summary": False},
    "checkpoint": {"every_n_epochs": 2},
    "sonify": {
        "analyses": ["coherence", "removal", "evolution"],
        "n_inputs": 5,  # split: the run's test fold
        "layers": [11, 1, 3, 3],  # sorted, once each
        "example_layers": [2, 11],
        "top": 2,
        "n_examples": 1,
    },  # fmt: skip
    "seed": 0,
}


def _statuses(run):
    return {n: e["status"] for n, e in json.loads((run / "run.json").read_text())["stages"].items()}


def _csv(path):
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("sonify-run")
    (tmp / "exp.yaml").write_text(yaml.safe_dump(CONFIG))
    assert main(["run", str(tmp / "exp.yaml"), "--out", str(tmp / "run")]) == 0
    return tmp / "run"


def test_epoch_checkpoints_count_completed_epochs(run):
    assert [k for k, _ in epoch_checkpoints(run / "checkpoints" / "best.ckpt")] == [0, 2]
    last, best, second = (
        torch.load(run / "checkpoints" / name, weights_only=False)
        for name in ("last.ckpt", "best.ckpt", "epoch-2.ckpt")
    )
    steps = last["global_step"] // 3
    assert steps > 0 and second["global_step"] == 2 * steps and last["global_step"] == 3 * steps
    key = "model.blocks.0.0.weight"
    assert not torch.equal(second["state_dict"][key], last["state_dict"][key])


def test_stage_writes_the_analyses_and_the_report_plays_them(run):
    out = run / "sonify"
    summary = json.loads((out / "sonify.json").read_text())
    assert len(summary["clips"]) == 5 and summary["settings"]["split"] == "fold=5"
    # coherence: the paper's measure recomputed map by map with Sonifier.sonify on the same clips
    module = load_encoder_checkpoint(run / "checkpoints" / "best.ckpt")
    sonifier = Sonifier(module.model)
    inputs = _inputs(module, summary["clips"])
    coherence = _csv(out / "coherence.csv")
    assert [int(r["layer"]) for r in coherence] == [1, 3, 11]
    for row in coherence:
        layer = int(row["layer"])
        values = []
        for x in inputs:
            k = int(sonifier.activations(x, layer)[0].argmax())
            values.append(mean_top_coherence(x, sonifier.sonify(x, layer, k), 8000))
        assert float(row["mean_top5_coherence"]) == pytest.approx(np.mean(values), abs=1e-6)
        assert float(row["ci_low"]) <= float(row["mean_top5_coherence"]) <= float(row["ci_high"])
    # removal: the baseline is the model's accuracy on the clips
    removal = _csv(out / "removal.csv")
    with torch.no_grad():
        predicted = [int(module(x[None]).argmax()) for x in inputs]
    truth = [module.class_names.index(c.split("-", 1)[1]) for c in summary["clips"]]  # ids: "{k:05d}-{class}"
    assert float(removal[0]["baseline"]) == pytest.approx(np.mean([p == t for p, t in zip(predicted, truth)]))
    assert {k for k in removal[0]} >= {"layer", "metric", "random_map_control", "noise_control", "baseline"}
    # the clips that activate each map of the example layers most, best first
    top = _csv(out / "top_activating.csv")
    assert len(top) == (sonifier.n_maps(2) + sonifier.n_maps(11)) * 2
    for row in top[:4] + top[-4:]:
        x = inputs[summary["clips"].index(row["clip"])]
        activation = float(sonifier.activations(x, int(row["layer"]))[0, int(row["feature_map"])])
        assert float(row["activation"]) == pytest.approx(activation, rel=1e-5)
    best = {(r["layer"], r["feature_map"]): float(r["activation"]) for r in top if r["rank"] == "1"}
    assert all(float(r["activation"]) <= best[(r["layer"], r["feature_map"])] for r in top)
    # evolution: every kept epoch and layer
    evolution = _csv(out / "evolution.csv")
    assert sorted({(int(r["epoch"]), int(r["layer"])) for r in evolution}) == [
        (e, layer) for e in (0, 2) for layer in (1, 3, 11)
    ]
    assert len(summary["evolution"]) == 2 * 2 and len(summary["examples"]) == 2 * 2
    for name in ("coherence.png", "removal.png", "evolution.png", "examples/input-0.wav"):
        assert (out / name).stat().st_size > 0
    # the report links every image and audio file it shows, relative to the page
    html = (run / "report.html").read_text()
    sources = re.findall(r"<(?:img|audio)[^>]* src='([^']+)'", html)
    audio = re.findall(r"<audio[^>]* src='([^']+)'", html)
    assert len(audio) == 2 * 2 * 2 + 2 * 2  # input and sonification per example map, the evolution
    assert all((run / s).is_file() for s in sources)
    assert "Coherence" in html and "Removing sonifications" in html


def _inputs(module, clips):
    from audiolens.datasets import create_dataset

    dataset = create_dataset("synthetic", None, sample_rate=8000, n_per_class=6, duration=0.5, seed=0)
    by_id = {r.id: i for i, r in enumerate(dataset.records)}
    return [module.features(dataset.load_waveform(by_id[c])[0][None])[0] for c in clips]


def test_the_command_gives_the_stage_result_and_names_bad_requests(run, tmp_path, capsys):
    best = run / "checkpoints" / "best.ckpt"
    args = ["sonify", "--checkpoint", str(best), "--dataset", "synthetic", "--split", "fold=5", "--analysis",
            "coherence", "--layers", "1", "3", "11", "--n-inputs", "5"]  # fmt: skip
    assert main([*args, "--out", str(tmp_path / "cli")]) == 0
    assert "coherence on 5 clips of synthetic" in capsys.readouterr().out
    # the synthetic dataset's default options differ from the run's: only check the layout here
    rows = _csv(tmp_path / "cli" / "coherence.csv")
    assert [int(r["layer"]) for r in rows] == [1, 3, 11] and not (tmp_path / "cli" / "removal.csv").exists()
    for extra, match in [
        (["--out", str(tmp_path / "cli")], "exists; pass --overwrite"),
        (["--layer", "2", "--out", str(tmp_path / "x")], "--layer and --feature-map are for file mode"),
    ]:
        assert main([*args, *extra]) == 2
        assert match in capsys.readouterr().err
    assert main([*args, "--out", str(run), "--overwrite"]) == 2  # never replaces what is not its own output
    assert "it will not be replaced" in capsys.readouterr().err and (run / "run.json").is_file()
    assert main([*args[:8], "coherence", "noise", "--out", str(tmp_path / "x")]) == 2
    assert "sonify.analyses[1]" in capsys.readouterr().err
    assert main([*args[:-8], "--out", str(tmp_path / "x")]) == 2
    assert "needs --analysis" in capsys.readouterr().err
    assert not (tmp_path / "x").exists() and not list(tmp_path.glob(".x.*"))


def test_analyses_refuse_what_they_cannot_do(tmp_path):
    classifier = seeded_classifier("cnn12_small", [str(k) for k in range(8)], duration=0.5, features=WAVE)
    (tmp_path / "ckpts").mkdir()
    checkpoint = save_checkpoint(classifier, tmp_path / "ckpts" / "best.ckpt")
    settings = SonifyConfig(dataset="synthetic", split="all", n_inputs=2, analyses=["evolution"])
    with pytest.raises(ParameterError, match="evolution needs epoch-K.ckpt files"):
        sonify_dataset(checkpoint, settings, tmp_path / "out")
    with pytest.raises(ParameterError, match=r"layers \[12\] out of range: the model has layers 1..11"):
        sonify_dataset(checkpoint, settings.model_copy(update={"layers": [12]}), tmp_path / "out")
    other = seeded_classifier("cnn12_small", ["a", "b"], duration=0.5, features=WAVE)
    mismatch = save_checkpoint(other, tmp_path / "other.ckpt")
    with pytest.raises(ParameterError, match="classes .* of dataset 'synthetic' are not classes of"):
        sonify_dataset(mismatch, settings.model_copy(update={"analyses": ["removal"]}), tmp_path / "out")
    assert not (tmp_path / "out").exists() and not list(tmp_path.glob(".out.*"))


@pytest.mark.parametrize(
    "overrides,message",
    [
        (["checkpoint.every_n_epochs=0"], "evolution needs checkpoint.every_n_epochs"),
        (["sonify.dataset=nope"], "unknown sonify.dataset 'nope'"),
        (["sonify.analyses=[]"], "sonify.analyses"),
        (["task={type: pretrain, loss: nt_xent, augment: [gain]}"], "removal needs a classifier"),
    ],
)
def test_stage_bad_settings_are_one_clear_line(tmp_path, capsys, overrides, message):
    (tmp_path / "exp.yaml").write_text(yaml.safe_dump(CONFIG))
    args = ["run", str(tmp_path / "exp.yaml"), "--out", str(tmp_path / "run")]
    assert main([*args, *[a for o in overrides for a in ("--set", o)]]) == 2
    assert message in capsys.readouterr().err and not (tmp_path / "run").exists()


def test_clips_are_analysed_whole_not_padded_to_the_training_length(tmp_path):
    from audiolens.io import load_audio
    from audiolens.testing import make_fsdd

    root = make_fsdd(tmp_path / "fsdd", speakers=("ann",), n_per_digit=2, digits=(0, 1), duration=0.1)
    classifier = seeded_classifier("cnn12_small", ["0", "1"], duration=1.0, features=WAVE)
    checkpoint = save_checkpoint(classifier, tmp_path / "best.ckpt")
    settings = SonifyConfig(dataset="fsdd", root=str(root), split="test", analyses=["removal"], layers=[2], top=1)
    summary = sonify_dataset(checkpoint, settings, tmp_path / "out")
    assert len(summary["clips"]) == 4  # indices 0-1 of each digit are FSDD's test split
    assert load_audio(tmp_path / "out" / "examples" / "input-0.wav")[0].numel() == 800  # 0.1 s, not 1 s


def test_a_spectrogram_model_skips_the_stage_and_the_report_says_why(tmp_path, capsys):
    config = {
        **CONFIG,
        "features": {"preset": "pann", "sample_rate": 8000, "n_mels": 32},
        "model": {"name": "small_cnn_tiny"},
        "trainer": {**CONFIG["trainer"], "max_epochs": 1},
        "checkpoint": {},
    }
    config.pop("sonify")
    (tmp_path / "exp.yaml").write_text(yaml.safe_dump(config))
    run = tmp_path / "run"
    assert main(["run", str(tmp_path / "exp.yaml"), "--out", str(run)]) == 0
    assert "not applicable" not in (run / "report.html").read_text()
    capsys.readouterr()
    # a sonify section added to the finished run: not applicable, and the report is rebuilt to say so
    (tmp_path / "exp.yaml").write_text(yaml.safe_dump({**config, "sonify": {"analyses": ["coherence"], "n_inputs": 2}}))
    assert main(["run", str(tmp_path / "exp.yaml"), "--out", str(run), "--resume"]) == 0
    assert "sonify: not applicable (sonification maps feature maps back" in capsys.readouterr().err
    entry = json.loads((run / "run.json").read_text())["stages"]["sonify"]
    assert entry["status"] == "not applicable" and "reads 'logmel' features (features.type logmel)" in entry["reason"]
    assert {n: e["status"] for n, e in json.loads((run / "run.json").read_text())["stages"].items()} == {
        "train": "skipped", "evaluate": "skipped", "sonify": "not applicable", "report": "done"
    }  # fmt: skip
    assert not (run / "sonify").exists()
    report = (run / "report.html").read_text()
    assert "not applicable to this run's model" in report and "<b>sonify</b>: sonification maps" in report
    assert "<td>sonify</td><td>not applicable</td>" in report
    # the run is complete: a resume runs nothing; naming the stage is refused with the reason, before
    # any other named stage runs
    report = (run / "report.html").stat().st_mtime_ns
    assert main(["run", str(tmp_path / "exp.yaml"), "--out", str(run), "--resume"]) == 0
    assert "sonify: not applicable" in capsys.readouterr().err
    assert set(_statuses(run).values()) == {"skipped", "not applicable"}
    assert (run / "report.html").stat().st_mtime_ns == report
    assert main(["run", str(run), "--stages", "evaluate,sonify"]) == 2
    err = capsys.readouterr().err
    assert "--stages sonify: the stage does not apply to" in err and "evaluate (" not in err
    assert set(_statuses(run).values()) == {"skipped", "not applicable"}


def test_a_waveform_model_with_normalised_blocks_is_not_applicable():
    from types import SimpleNamespace

    from audiolens.engine.config import resolve_experiment
    from audiolens.engine.stages.sonify import SonifyStage
    from audiolens.models import register_model

    @register_model(default_cfg={"input_kind": "waveform"})
    def wave_bn_cnn_for_tests(num_classes: int = 0, **_):
        model = torch.nn.Module()
        conv = torch.nn.Conv1d(1, 4, 9, padding=4)
        model.blocks = torch.nn.ModuleList([torch.nn.Sequential(conv, torch.nn.BatchNorm1d(4), torch.nn.ReLU())])
        return model

    stage = SonifyStage()
    assert stage.skip_reason(SimpleNamespace(exp=resolve_experiment(CONFIG))) is None
    exp = resolve_experiment({**CONFIG, "model": {"name": "wave_bn_cnn_for_tests"}})
    reason = stage.skip_reason(SimpleNamespace(exp=exp))
    assert reason.startswith("model 'wave_bn_cnn_for_tests' cannot be sonified: ") and "BatchNorm1d" in reason


def test_cross_validation_reports_what_its_folds_could_not_run(tmp_path):
    config = {
        **CONFIG,
        "data": {**CONFIG["data"], "test_folds": [4, 5]},
        "features": {"preset": "pann", "sample_rate": 8000, "n_mels": 32},
        "model": {"name": "small_cnn_tiny"},
        "trainer": {**CONFIG["trainer"], "max_epochs": 1},
        "checkpoint": {},
        "sonify": {"analyses": ["coherence"], "n_inputs": 2},
    }
    (tmp_path / "exp.yaml").write_text(yaml.safe_dump(config))
    assert main(["run", str(tmp_path / "exp.yaml"), "--out", str(tmp_path / "cv")]) == 0
    assert _statuses(tmp_path / "cv" / "fold-4")["sonify"] == "not applicable"
    assert "<b>sonify</b>: sonification maps" in (tmp_path / "cv" / "report.html").read_text()
