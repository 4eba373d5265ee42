import math

import matplotlib.image as mpimg
import pytest

from audiolens.report import plot_infoplane_layers, plot_information_plane, plot_sweep, plot_training_curves


def _rows(n_epochs=11, variances=(0.1, 1.0), std=False):
    rows = []
    for epoch in range(n_epochs):
        for variance in variances:
            for k, layer in enumerate(["layers.0", "layers.1", "classifier"]):
                rows.append(
                    {
                        "epoch": epoch,
                        "layer": layer,
                        "i_xz": 3 + epoch * 0.3 - k * 0.5,
                        "i_zy": 0.5 + epoch * 0.1 - k * 0.1,
                        "estimator": "kde",
                        "bound": "upper",
                        "noise_variance": variance,
                        "n_samples": 300,
                        "unit": "bits",
                        "n_bins": 0,
                        "i_xz_std": 0.05 if std else math.nan,
                        "i_zy_std": 0.02 if std else math.nan,
                    }
                )
    return rows


@pytest.mark.parametrize("std", [False, True])
def test_information_plane_png_has_one_panel_per_setting(tmp_path, std):
    path = plot_information_plane(_rows(std=std), tmp_path / "plots" / "infoplane.png", title="demo")
    image = mpimg.imread(path)
    assert path.is_file() and image.shape[1] > 1.5 * image.shape[0]  # two panels side by side
    single = plot_information_plane(_rows(variances=(0.1,)), tmp_path / "one.png")
    assert mpimg.imread(single).shape[1] < image.shape[1]
    binned = [dict(r, estimator="binning", bound="plug-in", n_bins=30) for r in _rows(3, (0.1,))]
    assert plot_information_plane(binned, tmp_path / "binned.png", inset_fraction=0).is_file()


def test_layer_curves_training_curves_and_sweep(tmp_path):
    rows = [r for r in _rows() if r["noise_variance"] == 0.1]
    layers = plot_infoplane_layers(rows, tmp_path / "plots" / "layers.png")
    history = [
        {"epoch": e, "train_loss": 1 / e, "val_loss": 1.2 / e, "train_accuracy": 0.9, "val_accuracy": 0.7}
        for e in range(1, 4)
    ]
    curves = plot_training_curves(history, tmp_path / "plots" / "curves.png")
    assert layers.is_file() and curves.is_file()
    regression = [{"epoch": e, "train_loss": 1 / e, "val_mae": 0.5 / e} for e in range(1, 4)]
    assert plot_training_curves(regression, tmp_path / "mae.png").is_file()  # any metric, no fixed list
    variants = {
        "a": {"mean": 0.8, "ci95": [0.7, 0.9], "per_seed": [0.75, 0.85]},
        "b": {"mean": 0.6, "ci95": None, "per_seed": [0.6]},
    }
    assert plot_sweep(variants, tmp_path / "sweep.png", metric="final.test_accuracy").is_file()
