"""Report section ``sonification``: what the raw-waveform CNN's feature maps respond to, seen and heard.

Renders from ``sonify/`` (the ``sonify`` stage, :mod:`audiolens.engine.stages.sonify`):

- the coherence per layer (paper figure 7) and the removal experiment with its two controls
  (paper figure 6), as plots and tables, with what they say in words;
- the coherence per layer during training (``evolution``), when the run kept epoch checkpoints,
  with the first input's sonification of one map per example layer across epochs, playable;
- listenable examples: per example input, its waveform as the model sees it and the
  sonifications of the most active maps of the example layers, each with the spectrogram pair.

Audio and images are linked relative to the page (they stay in the run folder).
"""

from __future__ import annotations

from typing import Any

from audiolens.report.page import Page, table
from audiolens.report.sections import register_section


def _float_rows(rows: list[dict[str, str]]) -> list[dict[str, Any]]:
    return [{k: (int(v) if k in ("layer", "epoch", "n") else float(v)) for k, v in r.items()} for r in rows]


def _coherence_words(rows: list[dict[str, Any]]) -> str:
    first, last = rows[0], rows[-1]
    trend = "falls" if last["mean_top5_coherence"] < first["ci_low"] else "does not fall clearly"
    return (
        f"Coherence {trend} with depth: {first['mean_top5_coherence']:.3f} at layer {first['layer']}, "
        f"{last['mean_top5_coherence']:.3f} at layer {last['layer']}."
    )


def _removal_words(rows: list[dict[str, Any]]) -> str:
    beats = [r["layer"] for r in rows if r["metric"] < min(r["random_map_control"], r["noise_control"])]
    return (
        f"Accuracy on the clips is {rows[0]['baseline']:.3f}. Removing the most active map's sonification lowers it "
        f"more than both controls at {len(beats)} of {len(rows)} layers"
        + (f" ({', '.join(map(str, beats))})." if beats else ".")
    )


@register_section("sonification", order=55, needs=("sonify/sonify.json",))
def sonification_section(page: Page) -> str | None:
    """Coherence, removal and evolution curves; playable examples."""
    summary = page.json("sonify/sonify.json")
    settings = summary.get("settings", {})
    parts = [
        "<h2>Sonification</h2>",
        f"<p>Deconvnet sonifications (unpooling with the forward pass's switches, ReLU, transposed convolution "
        f"with the block's own weights) of {len(summary.get('clips', []))} clips of "
        f"{settings.get('dataset')} ({settings.get('split')}), at {summary.get('sample_rate')} Hz, "
        f"as the model sees them (unit peak).</p>",
    ]
    for name, title, words, about, alt in (
        ("coherence", "Coherence of input and sonification per layer", _coherence_words,
         "Mean of the 5 largest magnitude-squared coherence values between each input and the sonification of its "
         "most active map, with a 95 % t-interval over the clips.",
         "Mean top-5 coherence against layer, with 95 % intervals"),
        ("removal", "Removing sonifications", _removal_words,
         "Controls: the sonification of a random map of the same layer, and Gaussian noise with the sonification's "
         "energy.",
         "Accuracy after removal against layer, with both controls"),
    ):  # fmt: skip
        if page.has(f"sonify/{name}.csv"):
            rows = _float_rows(page.csv(f"sonify/{name}.csv"))
            parts += [
                f"<h3>{title}</h3><p>{words(rows)} {about}</p>",
                page.figure(page.path(f"sonify/{name}.png"), alt),
                page.folded(f"{name.capitalize()} table", table(rows)),
            ]
    if page.has("sonify/evolution.csv"):
        rows = _float_rows(page.csv("sonify/evolution.csv"))
        players = "".join(
            page.audio(
                page.path(f"sonify/{e['wav']}"), f"epoch {e['epoch']}, layer {e['layer']}, map {e['feature_map']}"
            )
            for e in summary.get("evolution", [])
        )
        parts += [
            "<h3>During training</h3>",
            page.figure(page.path("sonify/evolution.png"), "Mean top-5 coherence against layer, one curve per epoch"),
            page.folded("Evolution table", table(rows)),
            "<p>The first clip's sonification of one map per example layer (the map most active after training), "
            "as the weights were at each kept epoch:</p>" + players,
        ]
    examples = summary.get("examples", [])
    for clip in dict.fromkeys(e["input"] for e in examples):
        mine = [e for e in examples if e["input"] == clip]
        parts.append(f"<h3>Example {clip + 1}: {mine[0].get('clip')}</h3>")
        for e in mine:
            label = (
                f"layer {e['layer']}, map {e['feature_map']} "
                f"(activation {e['activation']:.3g}, coherence {e['coherence']:.3f})"
            )
            players = page.audio(page.path(f"sonify/{e['input_wav']}"), "input") + page.audio(
                page.path(f"sonify/{e['wav']}"), f"sonification: {label}"
            )
            parts.append(f"<div class='pair'>{players}</div>")
            parts.append(
                page.figure(
                    page.path(f"sonify/{e['png']}"), f"Spectrograms of the input and the sonification of {label}"
                )
            )
    return "".join(parts)
