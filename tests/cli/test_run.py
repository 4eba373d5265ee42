"""End-to-end tests of ``audiolens run`` / ``evaluate`` / ``models`` / ``data`` on tiny data."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import yaml

from audiolens.cli.main import main
from audiolens.testing import make_fsdd, make_speech_commands

TINY = {
    "data": {
        "name": "synthetic",
        "kwargs": {"n_per_class": 10, "duration": 0.5, "seed": 0},
        "test_folds": [5],
        "batch_size": 16,
    },
    "features": {"preset": "pann", "sample_rate": 8000, "n_mels": 32},
    "model": {"name": "small_cnn_tiny"},
    "task": {"augment": {"mixup_alpha": 0.2, "freq_mask": 4, "time_mask": 8}},
    "optim": {"lr": 0.003},
    "trainer": {"max_epochs": 2, "enable_progress_bar": False, "enable_model_summary": False},
    "seed": 0,
}


@pytest.fixture
def tiny(tmp_path):
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(TINY))
    return path


def _metrics(run):
    metrics = json.loads((run / "metrics.json").read_text())
    metrics["final"].pop("fit_seconds")
    return metrics


def test_run_writes_the_run_folder(tiny, tmp_path):
    run = tmp_path / "run"
    assert main(["run", str(tiny), "--out", str(run)]) == 0
    for name in (
        "config.yaml",
        "env.json",
        "metrics.json",
        "report.html",
        "checkpoints/best.ckpt",
        "checkpoints/last.ckpt",
        "plots/confusion_matrix.png",
        "plots/training_curves.png",
        "logs/csv/version_0/metrics.csv",
    ):
        assert (run / name).is_file(), name
    config = yaml.safe_load((run / "config.yaml").read_text())
    assert config["model"]["name"] == "small_cnn_tiny" and config["optim"]["weight_decay"] == 0.01
    env = json.loads((run / "env.json").read_text())
    assert env["seed"] == 0 and env["versions"]["torch"] == torch.__version__.split("+")[0] or env["versions"]["torch"]
    metrics = _metrics(run)
    final = metrics["final"]
    for key in ("test_accuracy", "test_macro_f1", "val_accuracy", "val_loss", "n_test"):
        assert key in final
    assert [row["epoch"] for row in metrics["history"]] == [1, 2]
    assert {"train_loss", "val_loss", "val_accuracy"} <= set(metrics["history"][0])
    assert final["n_test"] == 16 and final["n_train"] + final["n_val"] == 64
    report = (run / "report.html").read_text()
    assert "plots/confusion_matrix.png" in report and "test_accuracy" in report
    ckpt = torch.load(run / "checkpoints" / "best.ckpt", weights_only=False)
    assert ckpt["audiolens"]["class_names"] and ckpt["hyper_parameters"]["features"]["n_mels"] == 32


def test_run_is_reproducible_and_never_overwrites(tiny, tmp_path, capsys):
    a, b = tmp_path / "a", tmp_path / "b"
    assert main(["run", str(tiny), "--out", str(a)]) == 0
    assert main(["run", str(tiny), "--out", str(b)]) == 0
    assert _metrics(a) == _metrics(b)
    before = (a / "metrics.json").read_bytes()
    assert main(["run", str(tiny), "--out", str(a)]) == 2
    assert "already exists; pass --overwrite" in capsys.readouterr().err
    assert (a / "metrics.json").read_bytes() == before
    assert main(["run", str(tiny), "--out", str(a), "--overwrite", "--set", "seed=1"]) == 0
    assert _metrics(a) != _metrics(b)
    assert main(["run", str(tiny), "--out", str(a), "--resume"]) == 2  # config differs from the stored one
    assert "differs" in capsys.readouterr().err


def test_cross_validation_resumes_by_skipping_finished_folds(tiny, tmp_path):
    run = tmp_path / "cv"
    args = ["run", str(tiny), "--out", str(run), "--set", "data.test_folds=[4,5]", "--set", "trainer.max_epochs=1"]
    assert main(args) == 0
    cv = json.loads((run / "cv.json").read_text())
    assert [row["fold"] for row in cv["per_fold"]] == [4, 5]
    values = [row["accuracy"] for row in cv["per_fold"]]
    assert cv["accuracy_mean"] == pytest.approx(sum(values) / 2)
    assert (run / "fold-4" / "checkpoints" / "best.ckpt").is_file() and (run / "plots" / "cv.png").is_file()
    stamp = (run / "fold-4" / "metrics.json").stat().st_mtime_ns
    import shutil

    shutil.rmtree(run / "fold-5")
    assert main([*args, "--resume"]) == 0
    assert (run / "fold-4" / "metrics.json").stat().st_mtime_ns == stamp
    assert json.loads((run / "cv.json").read_text()) == cv


@pytest.mark.parametrize(
    "overrides,message",
    [
        (["model.name=nope"], "unknown model 'nope'"),
        (["data.name=nope"], "unknown dataset 'nope'"),
        (["features.preset=nope"], "unknown front-end preset 'nope'"),
        (["optim.learning_rate=1"], "learning_rate"),
        (["trainer.max_epoch=1"], "unknown trainer key"),
        (["data.name=fsdd", "data.kwargs={}", "data.root=/nonexistent/fsdd"], "/nonexistent/fsdd"),
        (["data.val_fraction=0"], "validation split is empty"),
        (["model.kwargs={num_classes: 3}"], "must not set num_classes"),
        (["data.test_folds=[4,5]", "data.val_folds=[5]"], "share fold(s) [5]"),
        (["data.sample_rate=16000"], "differ; set one of them"),
        (["trainer.max_epochs=-1", "trainer.max_time=00:00:01:00"], "learning-rate schedule needs a length"),
    ],
)
def test_run_bad_input_is_one_clear_line(tiny, tmp_path, capsys, overrides, message):
    args = ["run", str(tiny), "--out", str(tmp_path / "r")]
    for item in overrides:
        args += ["--set", item]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not (tmp_path / "r").exists()  # nothing half-made is left to block the corrected run


def test_overwrite_only_replaces_run_folders(tiny, tmp_path, capsys):
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "thesis.tex").write_text("years of work")
    assert main(["run", str(tiny), "--out", str(precious), "--overwrite"]) == 2
    assert "not a run folder" in capsys.readouterr().err
    assert (precious / "thesis.tex").read_text() == "years of work"


def test_evaluate_on_fsdd_and_speech_commands_layouts(tmp_path, capsys):
    fsdd = make_fsdd(tmp_path / "fsdd", speakers=("alice", "bob"), n_per_digit=8, duration=0.3)
    cfg = {
        **TINY,
        "data": {"name": "fsdd", "root": str(fsdd), "batch_size": 16},
        "trainer": {**TINY["trainer"], "max_epochs": 3},
    }
    path = tmp_path / "fsdd.yaml"
    path.write_text(yaml.safe_dump(cfg))
    run = tmp_path / "run"
    assert main(["run", str(path), "--out", str(run)]) == 0
    ckpt = run / "checkpoints" / "best.ckpt"
    out = tmp_path / "eval.json"
    assert (
        main(["evaluate", "--checkpoint", str(ckpt), "--dataset", "fsdd", "--data-root", str(fsdd), "--out", str(out)])
        == 0
    )
    result = json.loads(out.read_text())
    assert result["n"] == 2 * 10 * 5  # indices 0-4 of each speaker and digit
    assert result["accuracy"] == pytest.approx(_metrics(run)["final"]["test_accuracy"])
    sc = make_speech_commands(
        tmp_path / "sc", labels=[str(d) for d in range(10)], n_per_label=3, sample_rate=16000, duration=0.3
    )
    out2 = tmp_path / "eval_sc.json"
    args = [
        "evaluate",
        "--checkpoint",
        str(ckpt),
        str(ckpt),
        "--dataset",
        "speech_commands",
        "--data-root",
        str(sc),
        "--split",
        "all",
        "--out",
        str(out2),
    ]
    assert main(args) == 0
    assert json.loads(out2.read_text())["n"] == 30
    other = make_speech_commands(tmp_path / "other", labels=["yes", "no"], n_per_label=2)
    assert main([*args[:6], "--data-root", str(other), "--split", "all", "--out", str(out2)]) == 2
    assert "classes the model does not know: ['no', 'yes']" in capsys.readouterr().err


def test_models_list_and_offline_download(capsys, monkeypatch, tmp_path):
    assert main(["models", "list", "--filter", "cnn1*"]) == 0
    assert capsys.readouterr().out.split() == ["cnn10", "pann", "cnn14", "pann"]
    import urllib.error
    import urllib.request

    def offline(*args, **kwargs):
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(urllib.request, "urlopen", offline)
    assert main(["data", "download", "esc50", "--root", str(tmp_path / "esc")]) == 2
    assert "offline" in capsys.readouterr().err


def _tiny_subprocess(path, out, *extra):
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "audiolens", "run", str(path), "--out", str(out), *extra],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


@pytest.mark.slow
def test_killed_run_resumes_to_the_same_metrics(tmp_path):
    # Large enough (about a second per epoch) that the run can be killed in the middle.
    cfg = {
        **TINY,
        "data": {**TINY["data"], "kwargs": {"n_per_class": 30, "duration": 1.0, "seed": 0}},
        "features": {"preset": "pann", "sample_rate": 16000},
        "trainer": {**TINY["trainer"], "max_epochs": 10},
    }
    path = tmp_path / "six.yaml"
    path.write_text(yaml.safe_dump(cfg))
    assert main(["run", str(path), "--out", str(tmp_path / "full")]) == 0
    run = tmp_path / "killed"
    proc = _tiny_subprocess(path, run)
    last = run / "checkpoints" / "last.ckpt"
    deadline = time.time() + 240
    while time.time() < deadline and proc.poll() is None:
        try:
            if torch.load(last, weights_only=False)["epoch"] >= 1:
                break
        except Exception:  # noqa: BLE001 - not written yet / being written
            pass
        time.sleep(0.01)
    assert proc.poll() is None, "the run finished before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (run / "metrics.json").exists()
    assert main(["run", str(path), "--out", str(run), "--resume"]) == 0
    assert _metrics(run) == _metrics(tmp_path / "full")
    assert (run / "logs" / "csv" / "version_0" / "metrics.csv").is_file()  # logs from before the kill are kept
    assert (run / "logs" / "csv" / "version_1" / "metrics.csv").is_file()


@pytest.mark.slow
def test_ddp_two_cpu_processes(tiny, tmp_path):
    run = tmp_path / "ddp"
    proc = _tiny_subprocess(
        tiny, run, "--set", "trainer.strategy=ddp", "--set", "trainer.devices=2", "--set", "trainer.accelerator=cpu"
    )
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err.decode()[-3000:]
    metrics = json.loads((run / "metrics.json").read_text())
    assert 0 <= metrics["final"]["test_accuracy"] <= 1 and len(metrics["history"]) == 2
    assert (run / "report.html").is_file()
    assert not list(tmp_path.glob("ddp/*/fold-*"))


@pytest.mark.slow
def test_quickstart_runs(tmp_path, monkeypatch):
    monkeypatch.chdir(Path(__file__).parents[2])
    start = time.time()
    assert main(["run", "--out", str(tmp_path / "qs")]) == 0
    assert time.time() - start < 180
    assert json.loads((tmp_path / "qs" / "metrics.json").read_text())["final"]["test_accuracy"] >= 0.8


def test_evaluate_split_selection(tmp_path):
    from audiolens import ParameterError
    from audiolens.cli.main import _select
    from audiolens.datasets import create_dataset

    ds = create_dataset("synthetic", n_per_class=5)
    assert len(_select(ds, "all")) == 40
    assert {ds.records[i].fold for i in _select(ds, "fold=2")} == {2}
    with pytest.raises(ParameterError, match="no official test split"):
        _select(ds, "test")
    with pytest.raises(ParameterError, match="has folds"):
        _select(ds, "fold=9")
    with pytest.raises(ParameterError, match="must be an integer"):
        _select(ds, "fold=x")
    with pytest.raises(ParameterError, match="test, all or fold=K"):
        _select(ds, "train")


REPO = Path(__file__).resolve().parents[2]


def test_cora_information_plane_run_folder(tmp_path, planetoid_root, monkeypatch):
    monkeypatch.setenv("AUDIOLENS_DATA", str(planetoid_root.parent))
    run = tmp_path / "cora"
    args = ["run", str(REPO / "configs" / "infoplane-cora-gcn.yaml"), "--out", str(run)]
    for item in (
        "trainer.max_epochs=2",
        "trainer.enable_progress_bar=false",
        "model.kwargs={hidden_channels: [16, 8, 8]}",
        "infoplane.noise_variances=[0.1, 1.0]",
    ):
        args += ["--set", item]
    assert main(args) == 0
    for name in (
        "infoplane.csv",
        "infoplane.json",
        "plots/infoplane.png",
        "plots/infoplane-train-forward.png",
        "plots/infoplane-layers.png",
        "plots/training_curves.png",
        "report.html",
        "checkpoints/best.ckpt",
    ):
        assert (run / name).is_file(), name
    final = json.loads((run / "metrics.json").read_text())["final"]
    assert 0 <= final["val_accuracy"] <= 1 and 0 <= final["test_accuracy"] <= 1
    summary = json.loads((run / "infoplane.json").read_text())
    planes = {(p["tracked"], p["noise_variance"]): p for p in summary["planes"]}
    assert set(planes) == {("all", 0.1), ("all", 1.0), ("train-forward", 0.1), ("train-forward", 1.0)}
    assert planes[("all", 0.1)]["n_samples"] == 2708 and planes[("train-forward", 0.1)]["n_samples"] == 140
    assert list(planes[("all", 0.1)]["last"]) == ["layers.0", "layers.1", "layers.2", "classifier"]
    assert "Information plane" in (run / "report.html").read_text()
    bad = ["run", str(REPO / "configs" / "infoplane-cora-gcn.yaml"), "--out", str(tmp_path / "bad")]
    assert main([*bad, "--set", "data.test_folds=[1]"]) == 2
    assert main([*bad, "--set", "model.name=small_cnn"]) == 2
    assert not (tmp_path / "bad").exists()


def test_audio_run_gets_an_information_plane_too(tiny, tmp_path):
    run = tmp_path / "run"
    args = ["run", str(tiny), "--out", str(run), "--set", "infoplane={estimator: binning, n_bins: 8}"]
    assert main(args) == 0
    rows = (run / "infoplane.csv").read_text().splitlines()
    final = json.loads((run / "metrics.json").read_text())["final"]
    header = rows[0].split(",")
    values = [dict(zip(header, line.split(","))) for line in rows[1:]]
    assert {v["tracked"] for v in values} == {"val"} and {v["estimator"] for v in values} == {"binning"}
    assert {int(v["n_samples"]) for v in values} == {final["n_val"]}
    assert sorted({int(v["epoch"]) for v in values}) == [0, 1, 2]
    assert (run / "plots" / "infoplane.png").is_file()
    plain = tmp_path / "plain"
    assert main(["run", str(tiny), "--out", str(plain)]) == 0
    assert _metrics(plain)["final"] == {k: v for k, v in _metrics(run)["final"].items() if k != "infoplane_seconds"}


@pytest.mark.parametrize(
    "overrides,message",
    [
        (["infoplane={estimator: ksg}"], "unknown infoplane.estimator 'ksg'; valid choices: binning, kde"),
        (["infoplane={noise_variances: [0]}"], "infoplane: noise_variance(s) must be finite and > 0"),
        (["infoplane={tracked: [val, nodes]}"], "infoplane.tracked must list distinct sets"),
        (["infoplane={n_bootstrap: 1}"], "infoplane: n_bootstrap must be 0 (off) or an integer >= 2"),
        (["infoplane={tracked: [train-forward]}"], "needs full-batch training"),
        (["infoplane={layers: [nope]}"], "unknown layer 'nope'"),
        (["task.type=node_classification"], "unknown graph dataset (task.type node_classification) 'synthetic'"),
        (["model.name=gcn"], "is a graph model; use it with task.type: node_classification"),
        (["data.name=cora"], "a graph: set task.type: node_classification"),
    ],
)
def test_infoplane_bad_input_is_one_clear_line(tiny, tmp_path, capsys, overrides, message):
    args = ["run", str(tiny), "--out", str(tmp_path / "r")]
    for item in overrides:
        args += ["--set", item]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not (tmp_path / "r").exists()


def test_cross_validation_gives_every_fold_its_information_plane(tiny, tmp_path):
    run = tmp_path / "cv"
    args = ["run", str(tiny), "--out", str(run), "--set", "data.test_folds=[4,5]", "--set", "infoplane={}"]
    args += ["--set", "trainer.max_epochs=1"]
    assert main(args) == 0
    for fold in (4, 5):
        assert (run / f"fold-{fold}" / "infoplane.csv").is_file()
        assert (run / f"fold-{fold}" / "plots" / "infoplane.png").is_file()
        summary = json.loads((run / f"fold-{fold}" / "infoplane.json").read_text())
        assert summary["planes"][0]["tracked"] == "val" and summary["planes"][0]["last_epoch"] == 1
    assert (run / "cv.json").is_file()
