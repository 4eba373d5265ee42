"""The run's Lightning trainer: best / last / epoch-K checkpoints."""

import lightning as L
import torch
from torch import nn

from audiolens.training import TrainerConfig, make_trainer


class _Worsening(L.LightningModule):
    """A module whose validation loss grows every epoch, so best.ckpt stays at epoch 1."""

    def __init__(self):
        super().__init__()
        self.layer = nn.Linear(2, 1)

    def training_step(self, batch, batch_idx):
        return self.layer(batch[0]).pow(2).mean()

    def validation_step(self, batch, batch_idx):
        self.log("val_loss", float(self.current_epoch))

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)

    def train_dataloader(self):
        return torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.randn(8, 2)), batch_size=4)

    val_dataloader = train_dataloader


def _fit(tmp_path, max_epochs, every_n=0, save_every_n=1, module=None, callbacks=(), ckpt_path=None, **trainer):
    """Fit ``module`` (default :class:`_Worsening`) in ``tmp_path``; the checkpoints written, by file name."""
    config = TrainerConfig(max_epochs=max_epochs, enable_progress_bar=False, enable_model_summary=False, **trainer)
    pl_trainer, _ = make_trainer(tmp_path, config, monitor="val_loss", mode="min", callbacks=list(callbacks),
                                 keep_every_n_epochs=every_n, save_every_n_epochs=save_every_n)  # fmt: skip
    pl_trainer.fit(module or _Worsening(), ckpt_path=ckpt_path)
    return {p.name: torch.load(p, weights_only=False) for p in (tmp_path / "checkpoints").glob("*.ckpt")}


def _steps(saved):
    return {name: checkpoint["global_step"] for name, checkpoint in saved.items()}


def test_last_checkpoint_is_the_last_epoch_even_when_the_monitor_did_not_improve(tmp_path):
    saved = _fit(tmp_path, 3)
    assert sorted(saved) == ["best.ckpt", "last.ckpt"]
    assert saved["best.ckpt"]["global_step"] == 2 and saved["last.ckpt"]["global_step"] == 6  # 2 steps per epoch


def test_epoch_checkpoints_every_n_completed_epochs_only(tmp_path):
    saved = _fit(tmp_path / "a", 5, every_n=2)
    assert {k: v["global_step"] for k, v in saved.items() if k.startswith("epoch-")} == {
        "epoch-0.ckpt": 0, "epoch-2.ckpt": 4, "epoch-4.ckpt": 8,
    }  # fmt: skip
    # a run that max_steps stops within its second epoch keeps no epoch-2.ckpt of that partial epoch
    cut = _fit(tmp_path / "b", 5, every_n=2, max_steps=3)
    assert sorted(k for k in cut if k.startswith("epoch-")) == ["epoch-0.ckpt"] and cut["last.ckpt"]["global_step"] == 3


class _Recorder(L.Callback):
    """The global steps at which last.ckpt was (re)written, read after every epoch."""

    def __init__(self, path):
        self.path, self.seen = path, []

    def on_train_epoch_end(self, trainer, pl_module):
        if self.path.exists():
            step = torch.load(self.path, weights_only=False)["global_step"]
            if not self.seen or self.seen[-1] != step:
                self.seen.append(step)


def test_save_every_n_epochs_writes_last_and_best_less_often_and_last_at_the_end(tmp_path):
    recorder = _Recorder(tmp_path / "checkpoints" / "last.ckpt")
    saved = _steps(_fit(tmp_path, 5, save_every_n=2, callbacks=[recorder]))
    # steps 4 and 8 (epochs 2 and 4) seen while training (the recorder reads an epoch late:
    # checkpoint callbacks run last); epoch 5 (step 10) written when training ended
    assert recorder.seen == [4, 8] and saved["last.ckpt"] == 10
    assert saved["best.ckpt"] == 4  # the best of the epochs considered (2, 4 and the last), not epoch 1 (step 2)


def test_a_run_shorter_than_save_every_n_epochs_still_writes_best_and_last(tmp_path):
    saved = _fit(tmp_path, 2, save_every_n=5)
    assert sorted(saved) == ["best.ckpt", "last.ckpt"]
    assert saved["best.ckpt"]["global_step"] == 4 and saved["last.ckpt"]["global_step"] == 4


class _Improving(_Worsening):
    """Validation loss falls every epoch, so every validated epoch is the best so far."""

    def validation_step(self, batch, batch_idx):
        self.log("val_loss", -float(self.current_epoch))


def test_an_unvalidated_final_state_never_becomes_best_and_fast_dev_run_writes_nothing(tmp_path):
    # max_steps stops inside epoch 3 (2 steps per epoch): step 5 was never validated, and with
    # N = 5 no epoch was considered, so there is no best.ckpt (evaluation falls back to last.ckpt)
    assert _steps(_fit(tmp_path / "a", 5, save_every_n=5, module=_Improving(), max_steps=5)) == {"last.ckpt": 5}
    assert _fit(tmp_path / "b", 5, save_every_n=2, module=_Improving(), fast_dev_run=True) == {}


def test_a_resumed_run_keeps_its_best_score_when_save_every_n_epochs_changes(tmp_path):
    from lightning.pytorch.callbacks import ModelCheckpoint

    _fit(tmp_path, 3)  # best: epoch 1 (step 2, val_loss 0)
    resumed = _fit(tmp_path, 5, save_every_n=2, ckpt_path=tmp_path / "checkpoints" / "last.ckpt")  # 4, 5 worse
    assert _steps(resumed) == {"best.ckpt": 2, "last.ckpt": 10}
    # the state key is plain ModelCheckpoint's with every_n_epochs=1: runs from before the option resume too
    saved = torch.load(tmp_path / "checkpoints" / "last.ckpt", weights_only=False)["callbacks"]
    plain = ModelCheckpoint(monitor="val_loss", mode="min", every_n_epochs=1).state_key
    assert plain in saved and saved[plain]["best_model_score"] == 0


def test_best_epoch_in_metrics_is_chosen_among_the_epochs_best_ckpt_considered(tmp_path):
    from types import SimpleNamespace

    from audiolens.training.experiment import FittedRun

    rows = [{"epoch": k, "val_loss": loss} for k, loss in enumerate([0.5, 0.6, 0.4, 0.3, 0.9], start=1)]
    trainer = SimpleNamespace(world_size=1, is_global_zero=True)

    def best(every):
        fitted = FittedRun(trainer, rows, 1.0, tmp_path / "best.ckpt", save_every_n_epochs=every)
        return fitted.write_metrics({}, monitor="val_loss", mode="min", sizes={}, run_dir=tmp_path)["final"][
            "best_epoch"
        ]

    assert best(1) == 4 and best(3) == 3  # every 3: epochs 3 and 5 (the last) were considered
    assert best(2) == 4
