"""End-to-end tests of ``audiolens run`` / ``evaluate`` / ``report`` on tiny data: run folders, stages, resume."""

import json
import os
import re
import shutil
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

REPO = Path(__file__).resolve().parents[2]

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


def _stages(run):
    return {name: entry["status"] for name, entry in json.loads((run / "run.json").read_text())["stages"].items()}


def test_run_writes_the_run_folder(tiny, tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["run", str(tiny), "--out", str(run)]) == 0
    for name in (
        "run.json",
        "config.yaml",
        "env.json",
        "metrics.json",
        "report.html",
        "eval/test.json",
        "checkpoints/best.ckpt",
        "checkpoints/last.ckpt",
        "plots/confusion_matrix.png",
        "plots/training_curves.png",
        "logs/csv/version_0/metrics.csv",
        "logs/run.log",
    ):
        assert (run / name).is_file(), name
    config = yaml.safe_load((run / "config.yaml").read_text())
    assert config["model"]["name"] == "small_cnn_tiny" and config["optim"]["weight_decay"] == 0.01
    env = json.loads((run / "env.json").read_text())
    assert env["seed"] == 0 and env["versions"]["torch"] and env["device_used"] == "cpu"
    metrics = _metrics(run)
    final = metrics["final"]
    for key in ("test_accuracy", "test_macro_f1", "val_accuracy", "val_loss", "n_test"):
        assert key in final
    assert [row["epoch"] for row in metrics["history"]] == [1, 2]
    assert {"train_loss", "val_loss", "val_accuracy", "val_macro_f1", "lr"} <= set(metrics["history"][0])
    assert final["n_test"] == 16 and final["n_train"] + final["n_val"] == 64 and final["world_size"] == 1
    state = json.loads((run / "run.json").read_text())
    assert state["format"] == 1 and _stages(run) == {"train": "done", "evaluate": "done", "report": "done"}
    assert all(state["stages"][s]["seconds"] >= 0 for s in ("train", "evaluate", "report"))
    test = json.loads((run / "eval" / "test.json").read_text())
    assert test["accuracy"] == pytest.approx(final["test_accuracy"]) and test["n"] == 16
    assert len(test["confusion"]) == 8 and sum(map(sum, test["confusion"])) == 16
    report = (run / "report.html").read_text()
    assert "plots/confusion_matrix.png" in report and "test_accuracy" in report and "Most confused" in report
    ckpt = torch.load(run / "checkpoints" / "best.ckpt", weights_only=False)
    assert ckpt["audiolens"]["task"] == "classification" and ckpt["hyper_parameters"]["features"]["n_mels"] == 32
    out, err = capsys.readouterr()
    assert "[1/3] train" in err and "[3/3] report: done" in err
    assert "run folder:" in out and "report.html" in out and "test_accuracy" in out
    # dependency noise stays in the log file
    assert "GPU available" not in err + out and "GPU available" in (run / "logs" / "run.log").read_text()


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
    assert main(["run", str(tiny), "--out", str(a), "--resume"]) == 2  # seed differs from the stored one
    err = capsys.readouterr().err
    assert "differs from the one" in err and "seed (1 -> 0)" in err


def test_fresh_numbered_folders_without_out(tiny, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["run", str(tiny), "--set", "trainer.max_epochs=1"]) == 0
    assert main(["run", str(tiny), "--set", "trainer.max_epochs=1"]) == 0  # again: a new folder, no error
    assert sorted(p.name for p in (tmp_path / "runs" / "tiny").iterdir()) == ["version_0", "version_1"]
    assert main(["run", str(tiny), "--set", "trainer.max_epochs=1", "--resume"]) == 0  # continues the latest
    assert _stages(tmp_path / "runs" / "tiny" / "version_1")["train"] == "skipped"
    assert not (tmp_path / "runs" / "tiny" / "version_2").exists()
    assert main(["run", str(tiny), "--overwrite"]) == 2
    assert "--overwrite needs --out" in capsys.readouterr().err


def test_cross_validation_resumes_by_skipping_finished_folds(tiny, tmp_path):
    run = tmp_path / "cv"
    args = ["run", str(tiny), "--out", str(run), "--set", "data.test_folds=[4,5]", "--set", "trainer.max_epochs=1"]
    assert main(args) == 0
    cv = json.loads((run / "cv.json").read_text())
    assert [row["fold"] for row in cv["per_fold"]] == [4, 5] and cv["metric"] == "test_accuracy"
    values = [row["value"] for row in cv["per_fold"]]
    assert cv["mean"] == pytest.approx(sum(values) / 2)
    assert (run / "fold-4" / "checkpoints" / "best.ckpt").is_file() and (run / "plots" / "cv.png").is_file()
    assert (run / "fold-4" / "run.json").is_file() and (run / "fold-4" / "report.html").is_file()
    assert "fold-4/report.html" in (run / "report.html").read_text()  # the CV report links each fold's report
    stamp = (run / "fold-4" / "metrics.json").stat().st_mtime_ns
    shutil.rmtree(run / "fold-5")
    assert main([*args, "--resume"]) == 0
    assert (run / "fold-4" / "metrics.json").stat().st_mtime_ns == stamp
    assert json.loads((run / "cv.json").read_text()) == cv
    # an evaluate entry added to a finished cross-validation reaches every fold, without retraining
    extra = "evaluate=[{name: synthetic, split: all, id: more, kwargs: {n_per_class: 2, duration: 0.5, seed: 7}}]"
    assert main([*args, "--resume", "--set", extra]) == 0
    for fold in (4, 5):
        assert (run / f"fold-{fold}" / "eval" / "more.json").is_file()
        assert _stages(run / f"fold-{fold}")["train"] == "skipped"
    assert (run / "fold-4" / "metrics.json").stat().st_mtime_ns == stamp


def test_leave_one_speaker_out_covers_every_speaker_and_names_them(tmp_path):
    fsdd = make_fsdd(tmp_path / "fsdd", speakers=("alice", "bob", "carol"), n_per_digit=6, duration=0.3)
    cfg = {**TINY, "data": {"name": "fsdd", "root": str(fsdd), "split": "loso", "batch_size": 16}}
    cfg["trainer"] = {**TINY["trainer"], "max_epochs": 1}
    path = tmp_path / "loso.yaml"
    path.write_text(yaml.safe_dump(cfg))
    assert main(["run", str(path), "--out", str(tmp_path / "loso")]) == 0
    cv = json.loads((tmp_path / "loso" / "cv.json").read_text())
    assert [(r["fold"], r["fold_name"]) for r in cv["per_fold"]] == [(1, "alice"), (2, "bob"), (3, "carol")]


@pytest.mark.parametrize(
    "overrides,message",
    [
        (["model.name=nope"], "unknown model 'nope'"),
        (["data.name=nope"], "unknown dataset 'nope'"),
        (["features.preset=nope"], "unknown front-end preset 'nope'"),
        (["optim.learning_rate=1"], "learning_rate"),
        (["trainer.max_epoch=1"], "unknown trainer key"),
        (["trainer.max_epochs=abc"], "trainer.max_epochs must be an integer (got 'abc')"),
        (["optim.lr=-1"], "optim.lr must be > 0 (got -1)"),
        (["data.name=fsdd", "data.kwargs={}", "data.root=/nonexistent/fsdd"], "/nonexistent/fsdd"),
        (["data.val_fraction=0"], "validation split is empty"),
        (["model.kwargs={num_classes: 3}"], "must not set num_classes"),
        (["data.test_folds=[4,5]", "data.val_folds=[5]"], "share fold(s) [5]"),
        (["data.sample_rate=16000"], "differ; set one of them"),
        (["trainer.max_epochs=-1", "trainer.max_time=00:00:01:00"], "learning-rate schedule needs a length"),
        (["task.type=nope"], "unknown task.type 'nope'; valid choices: classification, node_classification"),
        (["features.type=nope"], "unknown features.type 'nope'; valid choices: logmel, waveform"),
        (["trainer.accelerator=gpux"], "trainer: "),
        (["trainer.limit_train_batches=abc"], "trainer: "),
        (["trainer.precision=transformer-engine"], "trainer: "),
        (["evaluate=[{name: nope}]"], "unknown evaluate dataset 'nope'"),
    ],
)
def test_run_bad_input_is_one_clear_line(tiny, tmp_path, capsys, overrides, message):
    args = ["run", str(tiny), "--out", str(tmp_path / "r")]
    for item in overrides:
        args += ["--set", item]
    assert main(args) == 2
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if line.startswith("audiolens: error:")]
    assert len(errors) == 1 and message in errors[0] and "Traceback" not in err
    assert not (tmp_path / "r").exists()  # nothing half-made is left to block the corrected run


def test_overwrite_only_replaces_run_folders(tiny, tmp_path, capsys):
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "thesis.tex").write_text("years of work")
    assert main(["run", str(tiny), "--out", str(precious), "--overwrite"]) == 2
    assert "not a run folder" in capsys.readouterr().err
    assert (precious / "thesis.tex").read_text() == "years of work"


def test_resume_adds_evaluations_and_reruns_stages_from_files(tiny, tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["run", str(tiny), "--out", str(run)]) == 0
    best = (run / "checkpoints" / "best.ckpt").read_bytes()
    test_json = (run / "eval" / "test.json").stat().st_mtime_ns
    extra = "evaluate=[{name: synthetic, split: all, id: more, kwargs: {n_per_class: 3, duration: 0.5, seed: 5}}]"
    capsys.readouterr()
    assert main(["run", str(tiny), "--out", str(run), "--resume", "--set", extra]) == 0
    err = capsys.readouterr().err
    assert "train: skipped (complete)" in err and "evaluate: done" in err and "report: done" in err
    assert _stages(run) == {"train": "skipped", "evaluate": "done", "report": "done"}
    assert (run / "checkpoints" / "best.ckpt").read_bytes() == best
    assert (run / "eval" / "test.json").stat().st_mtime_ns == test_json  # only the new entry ran
    more = json.loads((run / "eval" / "more.json").read_text())
    assert more["n"] == 24 and more["split"] == "all" and "more" in (run / "report.html").read_text()
    assert yaml.safe_load((run / "config.yaml").read_text())["evaluate"][0]["id"] == "more"
    # nothing changed: everything is skipped
    assert main(["run", str(tiny), "--out", str(run), "--resume", "--set", extra]) == 0
    assert set(_stages(run).values()) == {"skipped"}
    # --stages re-runs a stage of the folder from its files
    html = (run / "report.html").read_text()
    (run / "report.html").unlink()
    assert main(["run", str(run), "--stages", "report"]) == 0
    assert (run / "report.html").read_text() == html
    # a training-time analysis cannot be added to a trained run
    assert main(["run", str(tiny), "--out", str(run), "--resume", "--set", "infoplane={}"]) == 2
    assert "needs a new training run" in capsys.readouterr().err
    assert main(["run", str(tiny), "--out", str(run), "--resume", "--set", "data.batch_size=8"]) == 2
    assert "data.batch_size (16 -> 8)" in capsys.readouterr().err
    assert main(["run", str(tiny), "--out", str(run), "--resume", "--set", "trainer.enable_progress_bar=true"]) == 0


def test_stages_errors(tiny, tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["run", str(tiny), "--out", str(run), "--set", "trainer.max_epochs=1"]) == 0
    assert main(["run", str(run), "--stages", "listen"]) == 2
    valid = "evaluate, folds, infoplane, probe, report, sonify, subruns, train"
    assert f"unknown stage 'listen'; valid choices: {valid}" in capsys.readouterr().err
    assert main(["run", str(run), "--stages", "infoplane"]) == 2
    assert "stage 'infoplane' does not apply" in capsys.readouterr().err
    (run / "checkpoints" / "best.ckpt").unlink()
    assert main(["run", str(run), "--stages", "evaluate"]) == 2
    assert "lacks checkpoints/best.ckpt" in capsys.readouterr().err
    # a run folder from an older audiolens
    old = tmp_path / "old"
    old.mkdir()
    (old / "config.yaml").write_text(yaml.safe_dump(TINY))
    (old / "metrics.json").write_text("{}")
    for args in (
        ["run", str(old), "--stages", "report"],
        ["report", str(old)],
        ["run", str(tiny), "--out", str(old), "--resume"],
    ):
        assert main(args) == 2
        assert "written by an older audiolens" in capsys.readouterr().err
    newer = tmp_path / "newer"
    shutil.copytree(run, newer)
    state = json.loads((newer / "run.json").read_text())
    (newer / "run.json").write_text(json.dumps({**state, "format": 99}))
    assert main(["report", str(newer)]) == 2
    assert "newer audiolens" in capsys.readouterr().err


def test_report_command_rebuilds_and_compares(tiny, tmp_path, capsys):
    runs = []
    for seed in (0, 1, 2):
        run = tmp_path / f"seed{seed}"
        assert (
            main(["run", str(tiny), "--out", str(run), "--set", f"seed={seed}", "--set", "trainer.max_epochs=1"]) == 0
        )
        runs.append(run)
    written = (runs[0] / "report.html").read_text()
    (runs[0] / "report.html").unlink()
    assert main(["report", str(runs[0])]) == 0
    assert (runs[0] / "report.html").read_text() == written  # the same content, from the files alone
    out = tmp_path / "cmp" / "compare.html"
    assert main(["report", *map(str, runs), "--out", str(out)]) == 0
    page = out.read_text()
    assert all(f"{r.name}/report.html" in page for r in runs) and "compare_files/curves.png" in page
    assert (out.parent / "compare_files" / "curves.png").is_file() and page.count("<th>seed") == 3
    assert main(["report", *map(str, runs)]) == 2
    assert "needs --out" in capsys.readouterr().err
    # the index of every run folder below a directory (a folder inside a run belongs to it)
    (runs[0] / "fold-1").mkdir()
    shutil.copy(runs[0] / "run.json", runs[0] / "fold-1" / "run.json")
    assert main(["report", "--index", str(tmp_path)]) == 0
    index = (tmp_path / "index.html").read_text()
    rows = re.findall(r"<tr><td data-v='([^']+)'><a href='([^']+)'>", index)
    assert [name for name, _ in rows] == ["seed0", "seed1", "seed2"]
    assert all((tmp_path / href).resolve() == (tmp_path / n / "report.html").resolve() for n, href in rows)
    accuracy = [json.loads((r / "metrics.json").read_text())["final"]["test_accuracy"] for r in runs]
    assert re.findall(r"<td data-v='([0-9.]+)'>[0-9.]+</td><td data-v='20", index)[:3] == [str(a) for a in accuracy]
    created = [json.loads((r / "run.json").read_text())["created"] for r in runs]
    assert all(f"data-v='{c}'" in index for c in created)  # dates sort by their ISO time
    assert "table class='sortable'" in index and "<script>" in index and "http" not in index
    assert "<td data-v='complete'>complete</td>" in index and "class='bad'" not in index
    assert main(["report", "--index", str(tmp_path / "cmp")]) == 2
    assert "no run folder (with run.json) below" in capsys.readouterr().err
    assert main(["report", str(runs[0]), "--index", str(tmp_path)]) == 2
    # a damaged run and a half-written one: their rows are marked, the others still render
    (runs[1] / "run.json").write_text("{not json")
    state = json.loads((runs[2] / "run.json").read_text())
    state["stages"]["evaluate"]["status"] = "running"
    (runs[2] / "run.json").write_text(json.dumps(state))
    assert main(["report", "--index", str(tmp_path)]) == 0
    index = (tmp_path / "index.html").read_text()
    marked = re.findall(r"<tr class='bad'><td data-v='([^']+)'>.*?data-v='((?:damaged|incomplete)[^']*)'", index)
    assert [(name, why.split(":")[0]) for name, why in marked] == [("seed1", "damaged"), ("seed2", "incomplete")]
    assert "seed1/run.json" in index and "incomplete: evaluate running" in index
    assert re.search(r"<tr><td data-v='seed0'><a href='seed0/report.html'>", index)


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
    assert result["accuracy"] == pytest.approx(json.loads((run / "eval" / "test.json").read_text())["accuracy"])
    sc = make_speech_commands(
        tmp_path / "sc", labels=[str(d) for d in range(10)], n_per_label=3, sample_rate=16000, duration=0.3
    )
    out2 = tmp_path / "eval_sc.json"
    args = ["evaluate", "--checkpoint", str(ckpt), str(ckpt), "--dataset", "speech_commands", "--data-root", str(sc)]
    assert main([*args, "--split", "all", "--out", str(out2)]) == 0
    assert json.loads(out2.read_text())["n"] == 30
    other = make_speech_commands(tmp_path / "other", labels=["yes", "no"], n_per_label=2)
    assert main([*args[:6], "--data-root", str(other), "--split", "all", "--out", str(out2)]) == 2
    assert "classes the model does not know: ['no', 'yes']" in capsys.readouterr().err
    assert main([*args, "--split", "train", "--out", str(out2)]) == 2
    assert "split must be test, all or fold=K" in capsys.readouterr().err


def test_models_list_and_offline_download(capsys, monkeypatch, tmp_path):
    assert main(["models", "list", "--filter", "cnn1*"]) == 0
    assert capsys.readouterr().out.split() == [
        "cnn10", "pann", "cnn12", "cnn12", "cnn12_small", "cnn12", "cnn12_x2", "cnn12", "cnn14", "pann",
    ]  # fmt: skip
    import urllib.error
    import urllib.request

    def offline(*args, **kwargs):
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(urllib.request, "urlopen", offline)
    assert main(["data", "download", "esc50", "--root", str(tmp_path / "esc")]) == 2
    assert "offline" in capsys.readouterr().err


def test_config_show_and_schema(tiny, capsys):
    assert main(["config", "show", str(tiny), "--set", "optim.name=sgd"]) == 0
    shown = yaml.safe_load(capsys.readouterr().out)
    assert shown["optim"]["name"] == "sgd" and shown["optim"]["momentum"] == 0.9 and shown["features"]["n_mels"] == 32
    assert main(["config", "schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert "task" in schema["properties"]
    assert main(["config", "show", str(tiny), "--set", "optim.lr=-1"]) == 2
    assert "optim.lr must be > 0" in capsys.readouterr().err


def _tiny_subprocess(path, out, *extra, stderr=subprocess.PIPE):
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "audiolens", "run", str(path), "--out", str(out), *extra],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=stderr,
    )


def _wait_for(predicate, proc, timeout=240):
    deadline = time.time() + timeout
    while time.time() < deadline and proc.poll() is None:
        try:
            if predicate():
                return True
        except Exception:  # noqa: BLE001 - not written yet / being written
            pass
        time.sleep(0.01)
    return False


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
    assert _wait_for(lambda: torch.load(last, weights_only=False)["epoch"] >= 1, proc)
    assert proc.poll() is None, "the run finished before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (run / "metrics.json").exists() and _stages(run)["train"] == "running"
    assert main(["run", str(path), "--out", str(run), "--resume"]) == 0
    assert _metrics(run) == _metrics(tmp_path / "full")
    assert (run / "logs" / "csv" / "version_0" / "metrics.csv").is_file()  # logs from before the kill are kept
    assert (run / "logs" / "csv" / "version_1" / "metrics.csv").is_file()


@pytest.mark.slow
def test_kill_during_a_post_training_stage_resumes_without_retraining(tiny, tmp_path):
    # An evaluation entry large enough (1600 clips) to kill the run while it evaluates.
    run = tmp_path / "run"
    cfg = {**TINY, "data": {**TINY["data"], "kwargs": {"n_per_class": 30, "duration": 1.0, "seed": 0}}}
    cfg["trainer"] = {**TINY["trainer"], "max_epochs": 6}
    cfg["evaluate"] = [
        {"name": "synthetic", "split": "all", "id": "extra", "kwargs": {"n_per_class": 200, "duration": 1.0}}
    ]
    path = tmp_path / "slow_eval.yaml"
    path.write_text(yaml.safe_dump(cfg))
    proc = _tiny_subprocess(path, run)
    assert _wait_for(lambda: _stages(run).get("evaluate") == "running", proc)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    best = (run / "checkpoints" / "best.ckpt").read_bytes()
    assert _stages(run) == {"train": "done", "evaluate": "running"}
    assert main(["run", str(path), "--out", str(run), "--resume"]) == 0
    assert (run / "checkpoints" / "best.ckpt").read_bytes() == best
    assert _stages(run) == {"train": "skipped", "evaluate": "done", "report": "done"}
    assert (run / "eval" / "extra.json").is_file()


@pytest.mark.slow
def test_ddp_two_cpu_processes(tiny, tmp_path):
    # without --out: the process of rank 1 must find the fresh numbered folder that rank 0 made
    ddp = ["--set", "trainer.strategy=ddp", "--set", "trainer.devices=2", "--set", "trainer.accelerator=cpu"]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "audiolens", "run", str(tiny), *ddp],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err.decode()[-3000:]
    runs = tmp_path / "runs" / "tiny"
    assert [p.name for p in runs.iterdir()] == ["version_0"]
    run = runs / "version_0"
    metrics = json.loads((run / "metrics.json").read_text())
    assert 0 <= metrics["final"]["test_accuracy"] <= 1 and len(metrics["history"]) == 2
    assert metrics["final"]["world_size"] == 2 and json.loads((run / "env.json").read_text())["world_size"] == 2
    # two processes joined the process group, each logging into the run folder, none to the console
    assert "GLOBAL_RANK: 0, MEMBER: 1/2" in (run / "logs" / "run.log").read_text()
    assert "GLOBAL_RANK: 1, MEMBER: 2/2" in (run / "logs" / "run-rank1.log").read_text()
    assert "GLOBAL_RANK" not in err.decode()
    assert (run / "report.html").is_file() and _stages(run) == {"train": "done", "evaluate": "done", "report": "done"}


@pytest.mark.slow
def test_quickstart_runs(tmp_path, monkeypatch):
    monkeypatch.chdir(REPO)
    assert main(["run", "--out", str(tmp_path / "qs")]) == 0  # its time is measured by benchmarks/engine.py
    assert json.loads((tmp_path / "qs" / "metrics.json").read_text())["final"]["test_accuracy"] >= 0.8


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
        "infoplane-sets.json",
        "plots/infoplane.png",
        "plots/infoplane-train-forward.png",
        "plots/infoplane-layers.png",
        "plots/training_curves.png",
        "plots/confusion_matrix.png",
        "report.html",
        "checkpoints/best.ckpt",
        "eval/test.json",
    ):
        assert (run / name).is_file(), name
    final = json.loads((run / "metrics.json").read_text())["final"]
    assert 0 <= final["val_accuracy"] <= 1 and 0 <= final["test_accuracy"] <= 1
    test = json.loads((run / "eval" / "test.json").read_text())
    assert test["n"] == 1000 and test["accuracy"] == pytest.approx(final["test_accuracy"])
    summary = json.loads((run / "infoplane.json").read_text())
    planes = {(p["tracked"], p["noise_variance"]): p for p in summary["planes"]}
    assert set(planes) == {("all", 0.1), ("all", 1.0), ("train-forward", 0.1), ("train-forward", 1.0)}
    assert planes[("all", 0.1)]["n_samples"] == 2708 and planes[("train-forward", 0.1)]["n_samples"] == 140
    assert list(planes[("all", 0.1)]["last"]) == ["layers.0", "layers.1", "layers.2", "classifier"]
    assert isinstance(summary["saturated"], list)
    for point in summary["saturated"]:
        assert point["value"] >= 0.99 * point["ceiling"] and point["quantity"] in ("i_xz", "i_zy")
    assert "Information plane" in (run / "report.html").read_text()
    bad = ["run", str(REPO / "configs" / "infoplane-cora-gcn.yaml"), "--out", str(tmp_path / "bad")]
    assert main([*bad, "--set", "data.test_folds=[1]"]) == 2
    assert main([*bad, "--set", "model.name=small_cnn"]) == 2
    assert not (tmp_path / "bad").exists()


def test_audio_run_gets_an_information_plane_too(tiny, tmp_path, capsys):
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
    # 6 validation clips: binning isolates them all, so the points are saturated and the run warns once
    summary = json.loads((run / "infoplane.json").read_text())
    assert summary["saturated"] and capsys.readouterr().err.count("warning: infoplane:") == 1
    assert "Saturation:" in (run / "report.html").read_text()
    # the summary's tolerance may change on a finished run: only the summary and the report run again
    assert main([*args[:4], "--resume", "--set", "infoplane={estimator: binning, n_bins: 8, dpi_tolerance: 0.5}"]) == 0
    assert json.loads((run / "infoplane.json").read_text())["tolerance"] == 0.5
    assert _stages(run) == {"train": "skipped", "evaluate": "skipped", "infoplane": "done", "report": "done"}
    plain = tmp_path / "plain"
    assert main(["run", str(tiny), "--out", str(plain)]) == 0
    assert _metrics(plain)["final"] == _metrics(run)["final"]  # tracking does not change training


@pytest.mark.parametrize(
    "overrides,message",
    [
        (["infoplane={estimator: ksg}"], "unknown infoplane.estimator 'ksg'; valid choices: binning, kde"),
        (["infoplane={noise_variances: [0]}"], "infoplane.noise_variances[0] must be > 0"),
        (["infoplane={tracked: [val, nodes]}"], "infoplane.tracked must list distinct sets"),
        (["infoplane={n_bootstrap: 1}"], "infoplane: n_bootstrap must be 0 (off) or an integer >= 2"),
        (["infoplane={tracked: [train-forward]}"], "needs full-batch training"),
        (["infoplane={layers: [nope]}"], "unknown layer 'nope'"),
        (
            ["task={type: node_classification}", "features=null"],
            "unknown graph dataset (task.type node_classification)",
        ),
        (["task={type: node_classification}"], "features do not apply to task.type 'node_classification'"),
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


def test_a_not_applicable_stage_is_not_complete_once_it_applies(tmp_path):
    from audiolens.engine.run import RunState, run_complete

    state = RunState.open(tmp_path)
    state.mark("train", "done", fingerprint="f", outputs=[])
    state.mark("sonify", "not applicable", reason="a spectrogram model", fingerprint="g", outputs=[])
    assert run_complete(tmp_path)  # a finished run: nothing left to do
    assert state.complete("train", "f", tmp_path)
    assert not state.complete("sonify", "g", tmp_path)  # if it applies later, it runs
    state.mark("sonify", "done", fingerprint="g", outputs=[])
    assert "reason" not in state.entry("sonify")
