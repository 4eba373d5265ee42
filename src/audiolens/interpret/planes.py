"""Information-plane analysis of estimated rows: the data-processing-inequality check and a summary.

Works on the row dictionaries of :func:`~audiolens.interpret.information_plane` (the columns of
``infoplane.csv``), in the layer order of the model.

Data-processing inequality (paper eq. 2): for a feed-forward chain ``X -> Z_1 -> Z_2 -> ...``
every later layer carries at most the information of an earlier one,
``I(X;Z_i) >= I(X;Z_j)`` and ``I(Z_i;Y) >= I(Z_j;Y)`` for ``i < j``. Estimates are noisy, so a
pair is listed only when the later layer exceeds the earlier one by more than ``tolerance``.
Graph layers need not obey it with respect to a node's own features (a GCN layer mixes in the
neighbours' inputs, the paper's sec. 4), so a listed pair is a finding, not an error.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from audiolens._internal.errors import ParameterError

__all__ = ["dpi_violations", "infoplane_summary", "setting_key"]


def setting_key(row: Mapping[str, Any]) -> tuple[str, str, str, float, int]:
    """``(tracked, estimator, bound, noise_variance, n_bins)`` of a row: rows with the same key form one plane."""
    variance = row.get("noise_variance", math.nan)
    return (
        str(row.get("tracked", "")),
        str(row["estimator"]),
        str(row["bound"]),
        float("nan") if variance in (None, "") else float(variance),
        int(row.get("n_bins") or 0),
    )


def _hashable(key: tuple) -> tuple:
    """``key`` with NaN (binning's missing noise variance) as ``None``, so equal settings hash equal."""
    return tuple(None if isinstance(x, float) and math.isnan(x) else x for x in key)


def _groups(rows: Sequence[Mapping[str, Any]]) -> list[tuple[tuple, list[Mapping[str, Any]]]]:
    """``(setting_key, rows)`` per estimator setting, in order of first appearance."""
    groups: dict[tuple, tuple[tuple, list[Mapping[str, Any]]]] = {}
    for row in rows:
        key = setting_key(row)
        groups.setdefault(_hashable(key), (key, []))[1].append(row)
    return list(groups.values())


def dpi_violations(
    rows: Sequence[Mapping[str, Any]], *, tolerance: float = 0.01, layers: Sequence[str] | None = None
) -> list[dict[str, Any]]:
    """Layer pairs that break the data-processing inequality, per epoch and estimator setting.

    Args:
        rows: Information-plane rows (``epoch``, ``layer``, ``i_xz``, ``i_zy``, ``estimator``,
            ``bound``, ``noise_variance``; optional ``tracked``, ``n_bins``).
        tolerance: How much (in the rows' unit) a later layer may exceed an earlier one before
            the pair is listed (>= 0).
        layers: Layer order (default: order of first appearance in ``rows``, i.e. model order).

    Returns:
        One dict per violating (setting, epoch, quantity, earlier layer, later layer):
        ``{"tracked", "estimator", "bound", "noise_variance", "n_bins", "epoch", "quantity"
        ("i_xz" or "i_zy"), "earlier", "later", "earlier_value", "later_value", "excess"}``.

    Raises:
        ParameterError: Negative tolerance, or a layer missing from ``layers``.
    """
    if not (tolerance >= 0):
        raise ParameterError(f"dpi tolerance must be >= 0, got {tolerance!r}")
    order = list(layers) if layers is not None else list(dict.fromkeys(r["layer"] for r in rows))
    position = {name: k for k, name in enumerate(order)}
    missing = sorted({r["layer"] for r in rows} - set(position))
    if missing:
        raise ParameterError(f"layers {missing} are not in the given layer order {order}")
    found = []
    for key, members in _groups(rows):
        tracked, estimator, bound, variance, n_bins = key
        by_epoch: dict[int, list[Mapping[str, Any]]] = {}
        for row in members:
            by_epoch.setdefault(int(row["epoch"]), []).append(row)
        for epoch in sorted(by_epoch):
            ordered = sorted(by_epoch[epoch], key=lambda r: position[r["layer"]])
            for i, early in enumerate(ordered):
                for late in ordered[i + 1 :]:
                    for quantity in ("i_xz", "i_zy"):
                        excess = float(late[quantity]) - float(early[quantity])
                        if excess > tolerance:
                            found.append(
                                {
                                    "tracked": tracked,
                                    "estimator": estimator,
                                    "bound": bound,
                                    "noise_variance": variance,
                                    "n_bins": n_bins,
                                    "epoch": epoch,
                                    "quantity": quantity,
                                    "earlier": early["layer"],
                                    "later": late["layer"],
                                    "earlier_value": float(early[quantity]),
                                    "later_value": float(late[quantity]),
                                    "excess": excess,
                                }
                            )
    return found


def infoplane_summary(
    rows: Sequence[Mapping[str, Any]],
    *,
    tolerance: float = 0.01,
    descriptions: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Per plane (tracked set x estimator setting): last-epoch coordinates and the DPI check.

    Args:
        rows: Information-plane rows (see :func:`dpi_violations`).
        tolerance: DPI tolerance (see :func:`dpi_violations`).
        descriptions: ``{tracked set: description}`` to include.

    Returns:
        ``{"tolerance", "planes": [{"tracked", "description", "estimator", "bound",
        "noise_variance", "n_bins", "unit", "n_samples", "last_epoch", "last": {layer: {"i_xz",
        "i_zy"}}, "saturated_last_epoch": [layers whose I(X;Z) is within 1 % of log N: every
        sample isolated, the setting says little], "dpi_holds_last_epoch",
        "dpi_violations_last_epoch": [...], "epochs_with_violations": [...]}]}``.
    """
    violations = dpi_violations(rows, tolerance=tolerance)
    planes = []
    for key, members in _groups(rows):
        tracked, estimator, bound, variance, n_bins = key
        last_epoch = max(int(r["epoch"]) for r in members)
        mine = [v for v in violations if _hashable(setting_key(v)) == _hashable(key)]
        last_rows = [r for r in members if int(r["epoch"]) == last_epoch]
        unit = members[0].get("unit", "bits")
        n = members[0].get("n_samples")
        ceiling = math.log(float(n)) / (math.log(2.0) if unit == "bits" else 1.0) if n else math.inf
        planes.append(
            {
                "tracked": tracked,
                "description": (descriptions or {}).get(tracked, ""),
                "estimator": estimator,
                "bound": bound,
                "noise_variance": None if math.isnan(variance) else variance,
                "n_bins": n_bins,
                "unit": unit,
                "n_samples": n,
                "last_epoch": last_epoch,
                "last": {r["layer"]: {"i_xz": float(r["i_xz"]), "i_zy": float(r["i_zy"])} for r in last_rows},
                "saturated_last_epoch": [r["layer"] for r in last_rows if float(r["i_xz"]) >= 0.99 * ceiling],
                "dpi_holds_last_epoch": not any(v["epoch"] == last_epoch for v in mine),
                "dpi_violations_last_epoch": [
                    {k: v[k] for k in ("quantity", "earlier", "later", "earlier_value", "later_value", "excess")}
                    for v in mine
                    if v["epoch"] == last_epoch
                ],
                "epochs_with_violations": sorted({v["epoch"] for v in mine}),
            }
        )
    return {"tolerance": tolerance, "planes": planes}
