"""Report section ``transcoder``: the table 2 comparison, true vs transcoded Mel, PtoPa-FC per class.

Renders for a ``task.type: transcoder`` run from ``eval/test.json`` (the CNN, ``"pinv"`` and
``"baselines"``) and ``eval/test-mels.npz`` (a few test chunks' true and transcoded Mel), in the
layout of Tailleur et al.'s table 2: Mel MSE, KL divergence and PtoPa-FC per method.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from audiolens.report.page import Page, table
from audiolens.report.plots import plot_mels
from audiolens.report.sections import register_section

_NAMES = {"mels": "CNN-mels", "logits": "CNN-logits", "hybrid": "CNN-hybrid"}


def _row(method: str, scores: dict[str, Any]) -> dict[str, Any]:
    return {
        "method": method,
        "Mel MSE": scores.get("mel_mse"),
        "KL (nats)": f"{scores['kl']:.3g}" if isinstance(scores.get("kl"), float) else scores.get("kl"),
        "PtoPa-FC": scores.get("ptopa_fc"),
        "clips": scores.get("n"),
    }


@register_section("transcoder", order=32, needs=("eval/test.json",))
def transcoder_section(page: Page) -> str | None:
    """Table 2 layout, Mel images and PtoPa-FC per class (``None`` for runs of other tasks)."""
    result = page.json("eval/test.json")
    if "pinv" not in result:
        return None
    rows = [_row("PINV", result["pinv"])]
    for loss, scores in (result.get("baselines") or {}).items():
        rows.append(_row(_NAMES.get(loss, loss), scores))
    own = _NAMES.get(result.get("loss", ""), "CNN")
    rows.append(_row(own + " (this run)", result))
    body = (
        "<h2>Transcoder (table 2 layout)</h2><p>The teacher's outputs on transcoded vs true Mel, averaged per "
        "clip over 1 s chunks: PtoPa-FC is the fraction of clips whose top class is preserved, KL the authors' "
        "per-class KL divergence (lower is better); Mel MSE in the target's log units squared.</p>" + table(rows)
    )
    stored, analysis = result.get("stored_sample_rate"), result.get("analysis_sample_rate")
    if stored and analysis and stored < analysis:
        body += (
            f"<p><b>Caveat:</b> the audio is stored at {stored} Hz and resampled up to the analysis' {analysis} Hz: "
            f"third-octave bands and Mel bands above {stored / 2:.0f} Hz carry no signal (they sit at the floor), "
            "so these numbers do not compare directly with full-band recordings.</p>"
        )
    downstream = result.get("downstream")
    if downstream:
        rows = [{"teacher input": kind, **scores} for kind, scores in downstream.items() if isinstance(scores, dict)]
        body += (
            "<h3>Downstream head (table 3 layout)</h3><p>Two fully connected layers (100 hidden units) on the "
            "frozen teacher's clip outputs, trained on the training clips of each input, scored on the test "
            "clips.</p>" + table(rows)
        )
    if page.has("eval/test-mels.npz") and page.plots:
        with np.load(page.path("eval/test-mels.npz")) as data:
            names = [k for k in data.files if k not in ("clip", "frames_per_second")]
            fps = float(data["frames_per_second"])
            arrays = {k: data[k] for k in names}
        for i in range(len(arrays["true"])):
            mels = [(k, arrays[k][i]) for k in names]
            plot = plot_mels(mels, page.plot_path(f"transcoded_mel_{i}.png"), frames_per_second=fps)
            body += page.figure(plot, f"test chunk {i}: true and transcoded Mel", f"True vs transcoded Mel, chunk {i}")
    per_class = result.get("ptopa_fc_per_class") or {}
    pinv_class = result["pinv"].get("ptopa_fc_per_class") or {}
    if per_class:
        rows = [
            {"class (top on true Mel)": name, own: value, "PINV": pinv_class.get(name)}
            for name, value in sorted(per_class.items(), key=lambda kv: kv[1])
        ]
        body += page.folded(f"PtoPa-FC per class ({len(rows)} classes, worst first)", table(rows))
    return body
