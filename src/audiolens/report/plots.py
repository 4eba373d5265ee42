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
    "plot_layer_coherence",
    "plot_mels",
    "plot_removal",
    "plot_runs_overlay",
    "plot_sweep",
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


def _curve_keys(history: Sequence[dict[str, Any]]) -> tuple[list[str], list[str]]:
    """``(loss keys, other metric keys)`` present in a history, in first-seen order."""
    keys = list(dict.fromkeys(k for row in history for k in row if k not in ("epoch", "lr")))
    losses = [k for k in keys if k.endswith("loss")]
    return losses, [k for k in keys if k not in losses]


def plot_training_curves(history: Sequence[dict[str, Any]], path: str | os.PathLike) -> Path:
    """Every logged metric per epoch: losses (left panel) and the other metrics (right panel).

    The history is a task's ``metrics.json`` ``history`` (any keys: ``train_loss``,
    ``val_accuracy``, a regression task's ``val_mae``, ...); training metrics are solid lines,
    validation ones dashed.
    """
    losses, others = _curve_keys(history)
    fig, axes = plt.subplots(1, 2 if others else 1, figsize=(10 if others else 5.5, 3.6), squeeze=False)
    epochs = [row["epoch"] for row in history]
    for ax, keys, label in ((axes[0, 0], losses, "loss"), (axes[0, -1], others, "metric")):
        if ax is axes[0, -1] and not others:
            break
        for key in keys:
            values = [row.get(key, np.nan) for row in history]
            ax.plot(epochs, values, "--" if key.startswith("val") else "-", marker="o", ms=3, label=key)
        ax.set_xlabel("epoch")
        ax.set_ylabel(label)
        if keys:
            ax.legend(fontsize=8)
    fig.tight_layout()
    return _save(fig, path)


def plot_runs_overlay(histories: dict[str, Sequence[dict[str, Any]]], path: str | os.PathLike) -> Path:
    """Training curves of several runs overlaid: one panel per metric the runs share, one line per run."""
    names = list(histories)
    shared = None
    for history in histories.values():
        losses, others = _curve_keys(history)
        keys = [*losses, *others]
        shared = keys if shared is None else [k for k in shared if k in keys]
    shared = shared or []
    columns = min(3, max(1, len(shared)))
    rows = max(1, (len(shared) + columns - 1) // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(4.2 * columns, 3.2 * rows), squeeze=False)
    for ax, key in zip(axes.flat, shared):
        for name in names:
            history = histories[name]
            ax.plot(
                [r["epoch"] for r in history], [r.get(key, np.nan) for r in history], marker="o", ms=2.5, label=name
            )
        ax.set_title(key, fontsize=9)
        ax.set_xlabel("epoch")
        ax.legend(fontsize=7)
    for ax in list(axes.flat)[len(shared) :]:
        ax.axis("off")
    fig.tight_layout()
    return _save(fig, path)


def plot_sweep(variants: dict[str, dict[str, Any]], path: str | os.PathLike, *, metric: str) -> Path:
    """One point per seed and the mean with its 95 % interval, per sweep variant.

    Args:
        variants: ``{variant: {"mean", "ci95": [lo, hi] or None, "per_seed": [...]}}``
            (``sweep.json``).
        path: PNG file to write.
        metric: The metric's key path (axis label).
    """
    names = list(variants)
    fig, ax = plt.subplots(figsize=(max(4.0, 1.1 * len(names) + 2), 3.6))
    for x, name in enumerate(names):
        entry = variants[name]
        values = [v for v in entry.get("per_seed", []) if v is not None]
        ax.scatter([x] * len(values), values, color="0.55", s=14, zorder=2)
        mean = entry.get("mean")
        if mean is not None:
            interval = entry.get("ci95")
            if interval:
                ax.errorbar(
                    [x],
                    [mean],
                    yerr=[[mean - interval[0]], [interval[1] - mean]],
                    fmt="o",
                    color="tab:blue",
                    capsize=4,
                    zorder=3,
                )
            else:
                ax.plot([x], [mean], "o", color="tab:blue", zorder=3)
    ax.set_xticks(range(len(names)), names, rotation=30 if len(names) > 4 else 0)
    ax.set_ylabel(metric)
    ax.set_title("mean and 95 % t-interval over seeds (grey: seeds)", fontsize=9)
    fig.tight_layout()
    return _save(fig, path)


def plot_cv(per_fold: Sequence[dict[str, Any]], path: str | os.PathLike, *, metric: str = "test metric") -> Path:
    """Bar chart of the test metric of every cross-validation fold (``value``), with the mean."""
    fig, ax = plt.subplots(figsize=(max(4, 0.6 * len(per_fold) + 2), 3.5))
    folds = [str(row.get("fold_name") or row["fold"]) for row in per_fold]
    values = [np.nan if row["value"] is None else row["value"] for row in per_fold]
    ax.bar(folds, values, color="tab:blue")
    mean, std = float(np.nanmean(values)), float(np.nanstd(values))
    ax.axhline(mean, color="black", ls="--", label=f"mean {mean:.3f} ± {std:.3f}")
    ax.set_xlabel("test fold")
    ax.set_ylabel(metric)
    ax.legend()
    return _save(fig, path)


def plot_mels(
    mels: Sequence[tuple[str, np.ndarray]],
    path: str | os.PathLike,
    *,
    frames_per_second: float | None = None,
    title: str = "",
    unit: str = "dB",
) -> Path:
    """Log-Mel spectrograms ``(n_mels, n_frames)`` stacked vertically with one colour scale (e.g. true vs transcoded).

    Args:
        mels: ``(label, array)`` pairs.
        path: The PNG.
        frames_per_second: Frame rate for a time axis in seconds (``None``: frames).
        title: Figure title.
        unit: Colour-bar label (the target's log units).
    """
    arrays = [np.asarray(m, dtype=float) for _, m in mels]
    finite = np.concatenate([a[np.isfinite(a)].ravel() for a in arrays]) if arrays else np.zeros(1)
    vmin, vmax = (float(np.percentile(finite, 1)), float(finite.max())) if finite.size else (0.0, 1.0)
    fig, axes = plt.subplots(len(arrays), 1, figsize=(7, 2.2 * len(arrays) + 0.4), squeeze=False)
    for ax, (label, _), array in zip(axes[:, 0], mels, arrays):
        extent = None
        if frames_per_second:
            extent = (0, array.shape[1] / frames_per_second, 0, array.shape[0])
        image = ax.imshow(array, origin="lower", aspect="auto", vmin=vmin, vmax=vmax, cmap="magma", extent=extent)
        ax.set_ylabel(f"{label}\nMel band")
    axes[-1, 0].set_xlabel("time (s)" if frames_per_second else "frame")
    fig.colorbar(image, ax=axes[:, 0].tolist(), label=unit, fraction=0.03)
    if title:
        fig.suptitle(title, fontsize=10)
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


def plot_timeline(
    start_s: np.ndarray,
    end_s: np.ndarray,
    probabilities: np.ndarray,
    class_names: Sequence[str],
    path: str | os.PathLike,
    *,
    top: int = 10,
    title: str = "",
) -> Path:
    """Class activity over time of a long recording: one row per class, the windows' probabilities as colour.

    Args:
        start_s: ``(n_windows,)`` window starts in s.
        end_s: ``(n_windows,)`` window ends in s.
        probabilities: ``(n_windows, n_classes)``.
        class_names: The classes.
        path: The PNG.
        top: Rows drawn: the classes with the highest peak probability.
        title: Figure title.
    """
    probabilities = np.asarray(probabilities, dtype=float)
    order = np.argsort(-probabilities.max(axis=0))[: max(1, top)][::-1]
    centres = (np.asarray(start_s) + np.asarray(end_s)) / 2
    fig, ax = plt.subplots(figsize=(9, 0.35 * len(order) + 1.4))
    extent = (float(np.min(start_s)), float(np.max(end_s)), -0.5, len(order) - 0.5)
    image = ax.imshow(
        probabilities[:, order].T, aspect="auto", origin="lower", cmap="viridis", vmin=0, vmax=1, extent=extent
    )
    ax.set_yticks(range(len(order)), [class_names[i] for i in order])
    ax.set_xlabel("time (s)")
    if len(centres) > 1:
        ax.set_xlim(extent[0], extent[1])
    fig.colorbar(image, ax=ax, label="probability", fraction=0.03)
    if title:
        ax.set_title(title, fontsize=10)
    return _save(fig, path)


def plot_sonification(
    waveform: np.ndarray,
    sonification: np.ndarray,
    sample_rate: int,
    path: str | os.PathLike,
    *,
    title: str = "",
    n_fft: int = 256,
) -> Path:
    """An input and its sonification as log-magnitude spectrograms, side by side (paper figures 1-3).

    Args:
        waveform: ``(n_samples,)`` input.
        sonification: ``(n_samples,)`` its sonification.
        sample_rate: Hz.
        path: The PNG.
        title: Figure title (e.g. layer and map).
        n_fft: Window length of the spectrograms in samples (75 % overlap, Hann, dB re 1.0).
    """
    fig, axes = plt.subplots(1, 2, figsize=(9, 3), sharey=True)
    for ax, signal, name in zip(axes, (waveform, sonification), ("input", "sonification")):
        signal = np.asarray(signal, dtype=float).reshape(-1)
        if np.abs(signal).max() > 0:
            ax.specgram(signal, NFFT=n_fft, Fs=sample_rate, noverlap=3 * n_fft // 4, scale="dB", cmap="magma")
        ax.set_title(name, fontsize=10)
        ax.set_xlabel("time (s)")
    axes[0].set_ylabel("frequency (Hz)")
    if title:
        fig.suptitle(title, fontsize=10)
    return _save(fig, path)


def plot_layer_coherence(
    curves: dict[str, Sequence[dict[str, Any]]], path: str | os.PathLike, *, title: str = ""
) -> Path:
    """Mean top-5 coherence between inputs and sonifications against layer, one line per curve (paper figure 7).

    Args:
        curves: ``{label: rows}``; rows have ``layer``, ``mean_top5_coherence``, ``ci_low``,
            ``ci_high`` (numbers or CSV strings), e.g. ``{"supervised": ..., "SimCLR": ...}``
            or one curve per training epoch.
        path: The PNG.
        title: Figure title.
    """
    fig, ax = plt.subplots(figsize=(6.5, 3.8))
    for k, (label, rows) in enumerate(curves.items()):
        rows = sorted(rows, key=lambda r: int(r["layer"]))
        layers = [int(r["layer"]) for r in rows]
        mean = [_number(r["mean_top5_coherence"]) for r in rows]
        line = ax.plot(layers, mean, marker=_MARKERS[k % len(_MARKERS)], ms=3, lw=1.2, label=label)[0]
        low = [_number(r["ci_low"]) for r in rows]
        high = [_number(r["ci_high"]) for r in rows]
        ax.fill_between(layers, low, high, color=line.get_color(), alpha=0.18, lw=0)
    ax.set_xlabel("layer L")
    ax.set_ylabel("mean top-5 coherence")
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title(title or "coherence of input and sonification (95 % CI)", fontsize=10)
    return _save(fig, path)


def plot_removal(
    rows: Sequence[dict[str, Any]], path: str | os.PathLike, *, title: str = "", metric: str = "accuracy"
) -> Path:
    """The removal experiment against layer (paper figure 6): the metric on ``x - s`` and its two controls.

    Args:
        rows: ``layer``, ``metric`` (on the residuals), ``random_map_control``, ``noise_control``,
            ``baseline`` (numbers or CSV strings).
        path: The PNG.
        title: Figure title.
        metric: The metric's name for the axis.
    """
    rows = sorted(rows, key=lambda r: int(r["layer"]))
    layers = [int(r["layer"]) for r in rows]
    fig, ax = plt.subplots(figsize=(6.5, 3.8))
    for key, label, style in (
        ("metric", "x - s (most active map)", "-o"),
        ("random_map_control", "x - s' (random map)", "--s"),
        ("noise_control", "x - n (noise, equal energy)", ":^"),
    ):
        ax.plot(layers, [_number(r[key]) for r in rows], style, ms=3, lw=1.2, label=label)
    ax.axhline(_number(rows[0]["baseline"]), color="k", lw=0.8, alpha=0.6, label="x (no removal)")
    ax.set_xlabel("layer L")
    ax.set_ylabel(metric)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title(title or "removing the sonification of the most active map", fontsize=10)
    return _save(fig, path)
