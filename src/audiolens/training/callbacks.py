"""Lightning callbacks with side effects (metric history)."""

from __future__ import annotations

from typing import Any

import lightning as L

__all__ = ["MetricsHistory"]


class MetricsHistory(L.Callback):
    """Record one row of epoch metrics: ``{"epoch", "train_loss", "val_loss", "val_accuracy", ...}``.

    Stateful (saved in checkpoints), so a resumed run keeps the history of the epochs before
    the interruption. Runs at ``on_train_epoch_end``, before the checkpoint callback.
    """

    KEYS = ("train_loss", "val_loss", "val_accuracy", "val_macro_f1")

    def __init__(self) -> None:
        self.history: list[dict[str, float]] = []

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        """Append the epoch's row (also called on the non-zero ranks; rows are identical)."""
        metrics = trainer.callback_metrics
        row: dict[str, float] = {"epoch": trainer.current_epoch + 1}
        for key in self.KEYS:
            if key in metrics:
                row[key] = float(metrics[key])
        if trainer.optimizers:
            row["lr"] = float(trainer.optimizers[0].param_groups[0]["lr"])
        self.history = [r for r in self.history if r["epoch"] != row["epoch"]] + [row]

    def state_dict(self) -> dict[str, Any]:
        """History for the checkpoint."""
        return {"history": list(self.history)}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore the history from a checkpoint."""
        self.history = list(state_dict.get("history", []))
