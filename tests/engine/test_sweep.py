"""``audiolens sweep``: grids of variants x seeds, parallel cells, kill and resume, Ray, intervals."""

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from audiolens import DataError
from audiolens.cli.main import main
from audiolens.engine.run import run_complete
from audiolens.engine.sweep import read_metric, summarize

BASE = {
    "data": {
        "name": "synthetic",
        "kwargs": {"n_per_class": 8, "duration": 0.5, "seed": 0},
        "test_folds": [5],
        "batch_size": 16,
    },
    "features": {"preset": "pann", "sample_rate": 8000, "n_mels": 32},
    "model": {"name": "small_cnn_tiny"},
    "trainer": {"max_epochs": 1, "enable_progress_bar": False, "enable_model_summary": False},
}


@pytest.fixture
def sweep_file(tmp_path):
    (tmp_path / "base.yaml").write_text(yaml.safe_dump(BASE))
    sweep = {
        "experiment": "base.yaml",
        "set": ["trainer.max_epochs=2"],
        "variants": {"narrow": ["model.kwargs={channels: [8, 16]}"], "default": []},
        "seeds": [0, 1],
        "metric": "final.test_accuracy",
    }
    path = tmp_path / "grid.yaml"
    path.write_text(yaml.safe_dump(sweep))
    return path


def test_summary_statistics_and_metric_paths(tmp_path):
    stats = summarize([1.0, 2.0, 3.0])
    assert stats["mean"] == 2.0 and stats["std"] == 1.0 and stats["n"] == 3
    half = 4.302652729911275 / math.sqrt(3)  # Student t(0.975, 2) from tables
    assert stats["ci95"] == pytest.approx([2.0 - half, 2.0 + half])
    assert summarize([0.5]) == {"mean": 0.5, "std": None, "ci95": None, "n": 1}
    (tmp_path / "metrics.json").write_text(json.dumps({"final": {"test_accuracy": 0.75}}))
    (tmp_path / "cv.json").write_text(json.dumps({"mean": 0.6, "per_fold": [{"value": 0.5}]}))
    (tmp_path / "eval").mkdir()
    (tmp_path / "eval" / "test.json").write_text(json.dumps({"accuracy": 0.8}))
    assert read_metric(tmp_path, "final.test_accuracy") == 0.75
    assert read_metric(tmp_path, "cv.mean") == 0.6 and read_metric(tmp_path, "cv.per_fold.0.value") == 0.5
    assert read_metric(tmp_path, "eval/test.accuracy") == 0.8
    with pytest.raises(DataError, match="metric 'final.nope' not found"):
        read_metric(tmp_path, "final.nope")


def _cells_done(folder):
    done = 0
    for run in folder.glob("*/seed-*/run.json"):
        stages = json.loads(run.read_text())["stages"]
        done += bool(stages) and all(s["status"] in ("done", "skipped") for s in stages.values())
    return done


def test_parallel_sweep_killed_and_resumed(sweep_file, tmp_path):
    out = tmp_path / "sweep"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "audiolens", "sweep", str(sweep_file), "--out", str(out), "--jobs", "2"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 300
    while time.time() < deadline and proc.poll() is None and _cells_done(out) < 1:
        time.sleep(0.05)
    assert proc.poll() is None, "the sweep finished before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    time.sleep(1.0)  # the cell processes die with the sweep (PR_SET_PDEATHSIG)
    # complete cells only: a cell killed in a later stage (the report) has metrics.json but is redone
    finished = {p.parent: p.stat().st_mtime_ns for p in out.glob("*/seed-*/metrics.json") if run_complete(p.parent)}
    assert 1 <= len(finished) < 4 and not (out / "sweep.json").exists()
    assert main(["sweep", str(sweep_file), "--out", str(out), "--resume", "--jobs", "2"]) == 0
    for cell, stamp in finished.items():
        assert (cell / "metrics.json").stat().st_mtime_ns == stamp  # finished cells were skipped
    summary = json.loads((out / "sweep.json").read_text())
    assert set(summary["variants"]) == {"narrow", "default"} and summary["metric"] == "final.test_accuracy"
    for variant in summary["variants"].values():
        assert variant["n"] == 2 and len(variant["per_seed"]) == 2 and variant["seeds"] == [0, 1]
        lo, hi = variant["ci95"]
        assert lo <= variant["mean"] <= hi
    for cell in ("narrow/seed-0", "narrow/seed-1", "default/seed-0", "default/seed-1"):
        config = yaml.safe_load((out / cell / "config.yaml").read_text())
        assert config["seed"] == int(cell[-1]) and config["trainer"]["max_epochs"] == 2
    assert yaml.safe_load((out / "narrow" / "seed-0" / "config.yaml").read_text())["model"]["kwargs"] == {
        "channels": [8, 16]
    }
    assert "| narrow | 2 |" in (out / "sweep.md").read_text()
    report = (out / "report.html").read_text()
    assert "Sweep: final.test_accuracy" in report and "plots/sweep.png" in report


def test_bad_grid_fails_before_any_cell_runs(sweep_file, tmp_path, capsys):
    grid = yaml.safe_load(sweep_file.read_text())
    grid["variants"]["broken"] = ["optim.learnin_rate=0.1"]
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(grid))
    assert main(["sweep", str(bad), "--out", str(tmp_path / "bad")]) == 2
    err = capsys.readouterr().err
    assert "sweep cell broken/seed-0" in err and "learnin_rate" in err
    assert not (tmp_path / "bad").exists()
    assert (
        main(["sweep", str(sweep_file), "--out", str(tmp_path / "x"), "--launcher", "ray", "--address", "127.0.0.1:1"])
        == 2
    )
    assert "cannot reach the Ray cluster at '127.0.0.1:1'" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()  # nothing is written
    grid = yaml.safe_load(sweep_file.read_text())
    grid["variants"] = {"has space": []}
    bad.write_text(yaml.safe_dump(grid))
    assert main(["sweep", str(bad), "--out", str(tmp_path / "y")]) == 2
    assert "sweep variants need names" in capsys.readouterr().err
    grid["variants"], grid["seeds"] = {"a": []}, [0, 0]
    bad.write_text(yaml.safe_dump(grid))
    assert main(["sweep", str(bad), "--out", str(tmp_path / "z")]) == 2
    assert "sweep seeds must be distinct" in capsys.readouterr().err


@pytest.mark.slow
def test_two_cells_through_a_local_ray_instance(sweep_file, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    grid = yaml.safe_load(sweep_file.read_text())
    grid["variants"] = {"default": []}
    path = tmp_path / "ray.yaml"
    path.write_text(yaml.safe_dump(grid))
    out = tmp_path / "ray-sweep"
    assert main(["sweep", str(path), "--out", str(out), "--launcher", "ray", "--address", "local"]) == 0
    summary = json.loads((out / "sweep.json").read_text())
    assert summary["variants"]["default"]["n"] == 2
    assert all((out / "default" / f"seed-{s}" / "metrics.json").is_file() for s in (0, 1))


@pytest.mark.parametrize(
    "name", sorted(p.name for p in (Path(__file__).parents[2] / "configs" / "sweeps").glob("*.yaml"))
)
def test_shipped_sweeps_resolve_every_cell(name, monkeypatch):
    from audiolens._internal.config import validate
    from audiolens.engine.config import interpolate, read_experiment_file
    from audiolens.engine.sweep import SweepConfig, _cells, _find_experiment, _validate_cells

    repo = Path(__file__).parents[2]
    monkeypatch.chdir(repo)
    monkeypatch.setenv("AUDIOLENS_DATA", "/data")
    sweep_file = repo / "configs" / "sweeps" / name
    config = validate(SweepConfig, interpolate(read_experiment_file(sweep_file)), "sweep")
    cells = _cells(config, _find_experiment(config.experiment, sweep_file), Path("out"))
    resolved = _validate_cells(cells)
    assert len(resolved) == len(config.variants) * len(config.seeds)
    if name.startswith("cat-ablation"):
        rows = {label.split("/")[0]: exp for label, exp in resolved.items()}
        assert rows["ast"]["model"]["name"] == "ast_tiny" and rows["ast"]["features"]["type"] == "logmel"
        assert rows["ast-mrmf"]["features"]["type"] == rows["cat"]["features"]["type"] == "mrmf"
        assert rows["ast-mrmf-cl"]["model"]["kwargs"] == {"causal": True}
        assert rows["cat-no-cl"]["model"] == {**rows["cat"]["model"], "kwargs": {"causal": False}}
        assert rows["cat-no-cl"]["task"]["loss_weights"] == {} and rows["cat"]["task"]["loss_weights"]
        # every row shares the recipe: data, optimiser, trainer and augmentation
        for row in rows.values():
            for key in ("data", "optim", "trainer"):
                assert row[key] == rows["cat"][key]
            assert row["task"]["augment"] == rows["cat"]["task"]["augment"]
    if name == "abt-augmentations.yaml":  # figure 2 of ABT: each augmentation alone, and all three
        rows = {label.split("/")[0]: exp for label, exp in resolved.items()}
        assert {k: v["task"]["augment"] for k, v in rows.items()} == {
            "mixup": ["mixup"],
            "rrc": ["rrc"],
            "rlf": ["rlf"],
            "all": ["mixup", "rrc", "rlf"],
        }
        for row in rows.values():
            assert {k: v for k, v in row["task"].items() if k != "augment"} == {
                k: v for k, v in rows["all"]["task"].items() if k != "augment"
            }
            for key in ("data", "optim", "trainer", "model", "features", "probe"):
                assert row[key] == rows["all"][key]
            assert row["probe"][0]["test_folds"] == [5] and row["probe"][0]["baseline"] is False
