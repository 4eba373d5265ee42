import math

import matplotlib.image as mpimg
import pytest

from audiolens.report import plot_infoplane_layers, plot_information_plane, plot_training_curves, write_report


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


def test_layer_curves_training_curves_and_report(tmp_path):
    rows = [r for r in _rows() if r["noise_variance"] == 0.1]
    layers = plot_infoplane_layers(rows, tmp_path / "plots" / "layers.png")
    history = [
        {"epoch": e, "train_loss": 1 / e, "val_loss": 1.2 / e, "train_accuracy": 0.9, "val_accuracy": 0.7}
        for e in range(1, 4)
    ]
    curves = plot_training_curves(history, tmp_path / "plots" / "curves.png")
    summary = {
        "tolerance": 0.01,
        "planes": [
            {
                "tracked": "all",
                "description": "all nodes of cora: 2708 nodes",
                "estimator": "kde",
                "bound": "upper",
                "noise_variance": 0.1,
                "n_bins": 0,
                "unit": "bits",
                "n_samples": 2708,
                "last_epoch": 10,
                "last": {"layers.0": {"i_xz": 6.0, "i_zy": 1.5}, "layers.1": {"i_xz": 6.5, "i_zy": 1.4}},
                "dpi_holds_last_epoch": False,
                "dpi_violations_last_epoch": [
                    {
                        "quantity": "i_xz",
                        "earlier": "layers.0",
                        "later": "layers.1",
                        "earlier_value": 6.0,
                        "later_value": 6.5,
                        "excess": 0.5,
                    }
                ],
                "epochs_with_violations": [10],
            }
        ],
    }
    report = write_report(tmp_path, config={"seed": 0}, env={}, plots=[layers, curves], infoplane=summary)
    text = report.read_text()
    assert "Information plane" in text and "<b>violated</b>" in text and "plots/layers.png" in text
    assert "all nodes of cora" in text
