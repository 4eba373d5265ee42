"""Plug-in proof: a task, an analysis stage and a report section registered in this file only.

They are registered by the decorators of audiolens (inside a fixture, so that the other test
files, collected in the same process, see the built-in registries only).

``audiolens run`` trains the toy regression task (its own ``val_mae`` monitor, mode min), writes
the ``val_mae`` history, resumes an interrupted training, runs the toy stage and shows its report
section, with no edit to ``cli/``, the engine or ``report/``.
"""

import json
import os
from typing import Any, Literal

import lightning as L
import pytest
import torch
import yaml
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from audiolens._internal.config import Config, PositiveFloat
from audiolens.cli.main import main
from audiolens.engine.stages import STAGES, Stage, register_stage
from audiolens.report import SECTIONS, register_section, table
from audiolens.training import TASKS, TaskPlugin, load_checkpoint, register_task
from audiolens.training.optim import configure_optimizers


class ToyRegression(L.LightningModule):
    def __init__(self, in_features: int = 4, optim: dict | None = None, seed: int = 0) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.model = nn.Sequential(nn.Linear(in_features, 8), nn.Tanh(), nn.Linear(8, 1))

    def forward(self, x):
        return self.model(x).squeeze(-1)

    def on_train_epoch_start(self):
        if os.environ.get("TOY_FAIL_AT_EPOCH") == str(self.current_epoch + 1):
            raise RuntimeError("toy interruption")

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = nn.functional.mse_loss(self(x), y)
        self.log("train_loss", loss, on_step=False, on_epoch=True)
        return loss

    def _eval(self, batch, split):
        x, y = batch
        pred = self(x)
        self.log(f"{split}_loss", nn.functional.mse_loss(pred, y))
        self.log(f"{split}_mae", (pred - y).abs().mean())

    def validation_step(self, batch, batch_idx):
        self._eval(batch, "val")

    def test_step(self, batch, batch_idx):
        self._eval(batch, "test")

    def configure_optimizers(self):
        return configure_optimizers(self, self.hparams.optim or {}, self.trainer)

    def on_save_checkpoint(self, checkpoint):
        checkpoint["audiolens"] = {"task": "toy_regression"}


class ToyData(L.LightningDataModule):
    def __init__(self, n: int, batch_size: int, noise: float, seed: int) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        x = torch.randn(n, 4, generator=g)
        y = x @ torch.tensor([1.0, -2.0, 0.5, 3.0]) + noise * torch.randn(n, generator=g)
        cut = (int(0.6 * n), int(0.8 * n))
        self.parts = {
            "train": TensorDataset(x[: cut[0]], y[: cut[0]]),
            "val": TensorDataset(x[cut[0] : cut[1]], y[cut[0] : cut[1]]),
            "test": TensorDataset(x[cut[1] :], y[cut[1] :]),
        }
        self.batch_size = batch_size

    def train_dataloader(self):
        return DataLoader(self.parts["train"], batch_size=self.batch_size, shuffle=False)

    def val_dataloader(self):
        return DataLoader(self.parts["val"], batch_size=64)

    def test_dataloader(self):
        return DataLoader(self.parts["test"], batch_size=64)


class ToyTaskConfig(Config):
    type: Literal["toy_regression"] = "toy_regression"
    monitor: str = "val_mae"
    noise: PositiveFloat = 0.1


class ToyPlugin(TaskPlugin):
    config = ToyTaskConfig
    module_class = ToyRegression
    uses_features = False
    optim_defaults = {"lr": 0.02, "warmup_epochs": 0.0}
    metric_modes = {"val_mae": "min", "val_loss": "min"}
    headline = ("test_mae",)

    def build(self, exp: Any):
        dm = ToyData(400, exp.data.batch_size, exp.task.noise, exp.seed)
        return ToyRegression(optim=exp.optim.to_dict(), seed=exp.seed), dm

    def sizes(self, datamodule):
        return {split: len(part) for split, part in datamodule.parts.items()}


class ToyAnalysisConfig(Config):
    factor: float = 2.0


class ToyAnalysisStage(Stage):
    order = 60
    section = "toy_analysis"
    schema = ToyAnalysisConfig | None
    default = None

    def inputs(self, run):
        return ["metrics.json"]

    def execute(self, run):
        final = json.loads((run.dir / "metrics.json").read_text())["final"]
        result = {"test_mae": final["test_mae"], "scaled": final["test_mae"] * run.exp.toy_analysis.factor}
        (run.dir / "toy.json").write_text(json.dumps(result))
        return ["toy.json"]


def _toy_section(page):
    return "<h2>Toy analysis</h2>" + table([page.json("toy.json")])


@pytest.fixture(autouse=True, scope="module")
def _registered():
    register_task("toy_regression")(ToyPlugin)
    register_stage("toy_analysis")(ToyAnalysisStage)
    register_section("toy_analysis", order=60, needs=("toy.json",))(_toy_section)
    yield
    TASKS.remove("toy_regression")
    STAGES.remove("toy_analysis")
    SECTIONS.remove("toy_analysis")


EXPERIMENT = {
    "data": {"name": "toy", "batch_size": 16},
    "model": {"name": "toy_mlp"},
    "task": {"type": "toy_regression", "noise": 0.1},
    "trainer": {"max_epochs": 4, "enable_progress_bar": False, "enable_model_summary": False},
    "toy_analysis": {"factor": 3.0},
    "seed": 0,
}


@pytest.fixture
def toy(tmp_path):
    path = tmp_path / "toy.yaml"
    path.write_text(yaml.safe_dump(EXPERIMENT))
    return path


def test_toy_task_and_stage_are_registered_from_this_file():
    assert "toy_regression" in TASKS and "toy_analysis" in STAGES and "toy_analysis" in SECTIONS


def test_run_trains_resumes_and_reports_a_plugin_task_and_stage(toy, tmp_path, monkeypatch, capsys):
    full = tmp_path / "full"
    assert main(["run", str(toy), "--out", str(full)]) == 0
    metrics = json.loads((full / "metrics.json").read_text())
    history = metrics["history"]
    assert [row["epoch"] for row in history] == [1, 2, 3, 4]
    assert all("val_mae" in row and "train_loss" in row for row in history)  # no fixed list of metrics
    best = min(history, key=lambda row: row["val_mae"])["epoch"]
    assert metrics["final"]["best_epoch"] == best and "test_mae" in metrics["final"]
    toy_result = json.loads((full / "toy.json").read_text())
    assert toy_result["scaled"] == pytest.approx(3.0 * metrics["final"]["test_mae"])
    report = (full / "report.html").read_text()
    assert "Toy analysis" in report and "val_mae" in report and "plots/training_curves.png" in report
    assert "test_mae" in capsys.readouterr().out  # the task's headline metric in the closing summary
    module = load_checkpoint(full / "checkpoints" / "best.ckpt")
    assert isinstance(module, ToyRegression) and not module.training

    # an interrupted training resumes from last.ckpt to the same result
    run = tmp_path / "interrupted"
    monkeypatch.setenv("TOY_FAIL_AT_EPOCH", "3")
    with pytest.raises(RuntimeError, match="toy interruption"):
        main(["run", str(toy), "--out", str(run)])
    monkeypatch.delenv("TOY_FAIL_AT_EPOCH")
    state = json.loads((run / "run.json").read_text())["stages"]
    assert state["train"]["status"] == "failed" and (run / "checkpoints" / "last.ckpt").is_file()
    assert main(["run", str(toy), "--out", str(run), "--resume"]) == 0
    resumed = json.loads((run / "metrics.json").read_text())
    for key in ("val_mae", "test_mae", "best_epoch"):
        assert resumed["final"][key] == metrics["final"][key]
    assert resumed["history"] == history

    # a changed post-training stage runs again on resume, training does not
    assert main(["run", str(toy), "--out", str(run), "--resume", "--set", "toy_analysis.factor=5"]) == 0
    stages = {k: v["status"] for k, v in json.loads((run / "run.json").read_text())["stages"].items()}
    assert stages["train"] == "skipped" and stages["toy_analysis"] == "done"
    assert json.loads((run / "toy.json").read_text())["scaled"] == pytest.approx(5.0 * metrics["final"]["test_mae"])
    # and the task's own monitor is checked before the run starts
    assert main(["run", str(toy), "--out", str(tmp_path / "bad"), "--set", "task.monitor=val_accuracy"]) == 2
    assert "task.monitor 'val_accuracy' is not a metric of task.type 'toy_regression'" in capsys.readouterr().err
