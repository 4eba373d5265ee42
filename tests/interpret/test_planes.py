import math

import pytest

from audiolens import ParameterError
from audiolens.interpret import dpi_violations, infoplane_summary


def _rows(values, epoch=1, tracked="all", variance=0.1):
    return [
        {
            "epoch": epoch,
            "layer": f"l{k}",
            "i_xz": x,
            "i_zy": y,
            "estimator": "kde",
            "bound": "upper",
            "noise_variance": variance,
            "n_samples": 100,
            "unit": "bits",
            "tracked": tracked,
            "n_bins": 0,
        }
        for k, (x, y) in enumerate(values)
    ]


def test_dpi_lists_every_violating_pair_beyond_the_tolerance():
    holds = _rows([(5.0, 2.0), (4.0, 1.9), (3.0, 1.5)])
    assert dpi_violations(holds) == []
    broken = _rows([(5.0, 2.0), (4.0, 2.3), (5.5, 1.5)], epoch=2)
    found = dpi_violations(holds + broken)
    pairs = {(v["epoch"], v["quantity"], v["earlier"], v["later"]) for v in found}
    assert pairs == {(2, "i_zy", "l0", "l1"), (2, "i_xz", "l0", "l2"), (2, "i_xz", "l1", "l2")}
    assert all(v["excess"] > 0.01 for v in found)
    assert dpi_violations(broken, tolerance=2.0) == []
    # an explicit order changes which layer is "earlier"
    reversed_order = dpi_violations(holds, layers=["l2", "l1", "l0"])
    assert len(reversed_order) == 6
    with pytest.raises(ParameterError, match="not in the given layer order"):
        dpi_violations(holds, layers=["l0"])
    with pytest.raises(ParameterError, match=">= 0"):
        dpi_violations(holds, tolerance=-1)


def test_settings_are_checked_separately_and_summarised():
    rows = (
        _rows([(5.0, 2.0), (4.0, 1.9)], epoch=1)
        + _rows([(5.0, 2.0), (6.0, 1.9)], epoch=1, variance=1.0)
        + _rows([(5.0, 2.0), (4.0, 1.9)], epoch=1, tracked="train-forward", variance=1.0)
    )
    summary = infoplane_summary(rows, descriptions={"all": "all nodes"})
    assert [(p["tracked"], p["noise_variance"], p["dpi_holds_last_epoch"]) for p in summary["planes"]] == [
        ("all", 0.1, True),
        ("all", 1.0, False),
        ("train-forward", 1.0, True),
    ]
    plane = summary["planes"][1]
    assert plane["description"] == "all nodes" and plane["last"]["l1"] == {"i_xz": 6.0, "i_zy": 1.9}
    assert plane["dpi_violations_last_epoch"][0]["quantity"] == "i_xz" and plane["epochs_with_violations"] == [1]
    binned = [dict(r, estimator="binning", bound="plug-in", noise_variance=math.nan, n_bins=30) for r in rows[:2]]
    assert infoplane_summary(binned)["planes"][0]["noise_variance"] is None
    saturated = _rows([(math.log2(100), 2.0), (5.0, 1.0)])
    assert infoplane_summary(saturated)["planes"][0]["saturated_last_epoch"] == ["l0"]
