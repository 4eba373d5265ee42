"""Plots of run results (matplotlib, Agg backend). Lower layers return data; these draw it."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

__all__ = [
    "plot_confusion_matrix",
    "plot_cv",
    "plot_information_plane",
    "plot_infoplane_layers",
    "plot_training_curves",
]


def _save(fig: plt.Figure, path: str | os.PathLike) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.tmp.png")
    try:
        fig.savefig(tmp, dpi=110, bbox_inches="tight")
    finally:
        plt.close(fig)
    tmp.replace(path)
    return path


def plot_confusion_matrix(
    matrix: np.ndarray, class_names: Sequence[str], path: str | os.PathLike, title: str = "Test confusion matrix"
) -> Path:
    """Draw a confusion matrix (rows true, columns predicted), row-normalised colours, counts as text."""
    matrix = np.asarray(matrix)
    n = len(class_names)
    size = max(4.0, min(18.0, 0.35 * n + 2))
    fig, ax = plt.subplots(figsize=(size, size))
    rates = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)
    ax.imshow(rates, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(n), class_names, rotation=90, fontsize=7 if n > 20 else 9)
    ax.set_yticks(range(n), class_names, fontsize=7 if n > 20 else 9)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    if n <= 20:
        for i in range(n):
            for j in range(n):
                if matrix[i, j]:
                    ax.text(
                        j,
                        i,
                        int(matrix[i, j]),
                        ha="center",
                        va="center",
                        color="white" if rates[i, j] > 0.5 else "black",
                        fontsize=8,
                    )
    accuracy = np.trace(matrix) / max(1, matrix.sum())
    ax.set_title(f"{title} (accuracy {accuracy:.3f}, n={int(matrix.sum())})")
    return _save(fig, path)


def plot_training_curves(history: Sequence[dict[str, Any]], path: str | os.PathLike) -> Path:
    """Loss (train/val) and accuracy (validation; training too when logged) per epoch."""
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 3.6))
    epochs = [row["epoch"] for row in history]
    for key, style in (("train_loss", "-"), ("val_loss", "--")):
        values = [row.get(key, np.nan) for row in history]
        ax_loss.plot(epochs, values, style, marker="o", ms=3, label=key)
    ax_loss.set_xlabel("epoch")
    ax_loss.set_ylabel("cross-entropy (nats)")
    ax_loss.legend()
    if any("train_accuracy" in row for row in history):
        ax_acc.plot(epochs, [row.get("train_accuracy", np.nan) for row in history], "-", ms=3, label="train_accuracy")
    ax_acc.plot(
        epochs, [row.get("val_accuracy", np.nan) for row in history], "--", marker="o", ms=3, label="val_accuracy"
    )
    ax_acc.set_xlabel("epoch")
    ax_acc.set_ylabel("accuracy")
    ax_acc.set_ylim(0, 1.02)
    ax_acc.legend()
    fig.tight_layout()
    return _save(fig, path)


def plot_cv(per_fold: Sequence[dict[str, Any]], path: str | os.PathLike) -> Path:
    """Bar chart of the test accuracy of every cross-validation fold, with the mean."""
    fig, ax = plt.subplots(figsize=(max(4, 0.6 * len(per_fold) + 2), 3.5))
    folds = [str(row["fold"]) for row in per_fold]
    values = [row["accuracy"] for row in per_fold]
    ax.bar(folds, values, color="tab:blue")
    ax.axhline(
        float(np.mean(values)), color="black", ls="--", label=f"mean {np.mean(values):.3f} ± {np.std(values):.3f}"
    )
    ax.set_xlabel("test fold")
    ax.set_ylabel("accuracy")
    ax.set_ylim(0, 1.02)
    ax.legend()
    return _save(fig, path)


_MARKERS = ("o", "^", "s", "D", "v", "P", "X", "*", "<", ">", "h", "p")


def _number(value: Any) -> float:
    """A float, or NaN for a missing value (``None``, ``""``: an empty CSV cell)."""
    return np.nan if value is None or value == "" else float(value)


def _setting_label(row: dict[str, Any]) -> str:
    if row["estimator"] == "kde":
        return f"KDE {row['bound']} bound, sigma^2 = {float(row['noise_variance']):g}"
    if row["estimator"] == "binning":
        return f"binning, {row['n_bins']} bins"
    return str(row["estimator"])


def plot_information_plane(
    rows: Sequence[dict[str, Any]],
    path: str | os.PathLike,
    *,
    title: str = "",
    inset_fraction: float = 0.2,
) -> Path:
    """Draw the information plane: x = I(X;Z), y = I(Z;Y), one marker per layer, colour = epoch.

    One panel per estimator setting in ``rows`` (e.g. per noise variance of a sigma^2 sweep);
    all rows should belong to one tracked set. Each panel has an inset that zooms on the
    converged region (the last ``inset_fraction`` of the epochs, as the paper's figure 2), and
    bootstrap error bars when the rows carry ``i_xz_std`` / ``i_zy_std``.

    Args:
        rows: Information-plane rows (``epoch``, ``layer``, ``i_xz``, ``i_zy``, ``estimator``,
            ``bound``, ``noise_variance``, ``n_bins``, ``unit``, ``n_samples``).
        path: PNG file to write.
        title: Figure title (e.g. the run and the tracked set).
        inset_fraction: Fraction of the last epochs shown in the inset (0 disables it).
    """
    settings: list[str] = list(dict.fromkeys(_setting_label(r) for r in rows))
    layers = list(dict.fromkeys(r["layer"] for r in rows))
    epochs = sorted({int(r["epoch"]) for r in rows})
    first, last = epochs[0], epochs[-1]
    norm = matplotlib.colors.Normalize(vmin=first, vmax=max(last, first + 1))
    cmap = plt.get_cmap("viridis")
    columns = min(len(settings), 2)
    n_rows = (len(settings) + columns - 1) // columns
    fig, axes = plt.subplots(n_rows, columns, figsize=(6.2 * columns, 5.0 * n_rows), squeeze=False)
    unit = rows[0].get("unit", "bits")
    for ax, setting in zip(axes.flat, settings):
        mine = [r for r in rows if _setting_label(r) == setting]
        inset = None
        late_from = last - max(1, round(inset_fraction * (last - first)))
        if inset_fraction > 0 and len(epochs) > 4:
            inset = ax.inset_axes((0.55, 0.07, 0.42, 0.42))
        for k, layer in enumerate(layers):
            pts = sorted((r for r in mine if r["layer"] == layer), key=lambda r: int(r["epoch"]))
            if not pts:
                continue
            x = np.array([float(r["i_xz"]) for r in pts])
            y = np.array([float(r["i_zy"]) for r in pts])
            e = np.array([int(r["epoch"]) for r in pts])
            marker = _MARKERS[k % len(_MARKERS)]
            ax.plot(x, y, "-", color="0.75", lw=0.6, zorder=1)
            xerr = np.array([_number(r.get("i_xz_std")) for r in pts])
            yerr = np.array([_number(r.get("i_zy_std")) for r in pts])
            if np.isfinite(xerr).any():
                ax.errorbar(x, y, xerr=xerr, yerr=yerr, fmt="none", ecolor="0.6", lw=0.5, zorder=1)
            ax.scatter(
                x,
                y,
                c=e,
                cmap=cmap,
                norm=norm,
                marker=marker,
                s=22,
                edgecolors="k",
                linewidths=0.3,
                zorder=2,
                label=f"{k + 1}: {layer}",
            )
            if inset is not None:
                late = e >= late_from
                inset.plot(x[late], y[late], "-", color="0.75", lw=0.6)
                inset.scatter(
                    x[late],
                    y[late],
                    c=e[late],
                    cmap=cmap,
                    norm=norm,
                    marker=marker,
                    s=18,
                    edgecolors="k",
                    linewidths=0.3,
                )
        if inset is not None:
            inset.tick_params(labelsize=7)
            inset.ticklabel_format(useOffset=False)
            inset.locator_params(nbins=3)
            inset.set_title(f"epochs {late_from}-{last}", fontsize=7)
            ax.indicate_inset_zoom(inset, edgecolor="0.4")
        n = mine[0].get("n_samples")
        ax.set_title(f"{setting} (N = {n})", fontsize=10)
        ax.set_xlabel(f"I(X;Z) ({unit})")
        ax.set_ylabel(f"I(Z;Y) ({unit})")
        ax.legend(fontsize=7, loc="upper left", title="layer", title_fontsize=7)
    for ax in list(axes.flat)[len(settings) :]:
        ax.axis("off")
    fig.colorbar(matplotlib.cm.ScalarMappable(norm=norm, cmap=cmap), ax=axes, label="epoch", shrink=0.8)
    if title:
        fig.suptitle(title, fontsize=11)
    return _save(fig, path)


def plot_infoplane_layers(rows: Sequence[dict[str, Any]], path: str | os.PathLike, *, title: str = "") -> Path:
    """I(X;Z) and I(Z;Y) of every layer against epoch, one row of panels per estimator setting.

    Reads the data-processing ordering of the layers over training (a later layer's curve
    above an earlier one's is a violation) and shows which settings saturate (flat at log2 N).
    """
    settings: list[str] = list(dict.fromkeys(_setting_label(r) for r in rows))
    layers = list(dict.fromkeys(r["layer"] for r in rows))
    unit = rows[0].get("unit", "bits")
    fig, axes = plt.subplots(len(settings), 2, figsize=(11, 3.0 * len(settings) + 0.6), squeeze=False)
    for (ax_x, ax_y), setting in zip(axes, settings):
        mine = [r for r in rows if _setting_label(r) == setting]
        for k, layer in enumerate(layers):
            pts = sorted((r for r in mine if r["layer"] == layer), key=lambda r: int(r["epoch"]))
            e = [int(r["epoch"]) for r in pts]
            marker = _MARKERS[k % len(_MARKERS)]
            ax_x.plot(e, [float(r["i_xz"]) for r in pts], marker=marker, ms=2.5, lw=1, label=f"{k + 1}: {layer}")
            ax_y.plot(e, [float(r["i_zy"]) for r in pts], marker=marker, ms=2.5, lw=1, label=f"{k + 1}: {layer}")
        for ax, name in ((ax_x, "I(X;Z)"), (ax_y, "I(Z;Y)")):
            ax.set_ylabel(f"{name} ({unit})")
            ax.set_title(setting, fontsize=9)
        ax_x.legend(fontsize=7)
    for ax in axes[-1]:
        ax.set_xlabel("epoch")
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return _save(fig, path)
