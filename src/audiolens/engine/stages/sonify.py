"""``sonify``: the sonification analyses of a raw-waveform CNN over a dataset (paper sec. 4).

The ``sonify`` section (:class:`SonifyConfig`, off when absent) runs after training on
``checkpoints/best.ckpt``; ``audiolens sonify --dataset`` runs the same code on any checkpoint
(:func:`sonify_dataset`), and ``audiolens sonify --input`` one file (:func:`sonify_file`).

Inputs: ``n_inputs`` clips drawn (seeded, without replacement) from ``split`` of the dataset
(the run's own when ``dataset`` is not given), decoded at the model's rate, cut to its training
duration when longer but not padded (the paper evaluates whole clips; zero padding would add
silence whose sonification is only the biases' response), padded only up to the model's
``time_stride`` when shorter, and passed through its input pipeline (unit peak for ``cnn12``):
the waveforms ``x`` the model sees. The same clips serve every analysis and
every checkpoint, so the curves of two models on the same settings compare clip for clip.

What it writes (``RUN/sonify/`` or ``--out``; a temporary folder renamed when complete):

- ``coherence.csv`` + ``coherence.png``: per layer, the mean top-5 magnitude-squared coherence
  between each input and the sonification of its most active map, with a 95 % t-interval
  (paper eq. 2-3, figure 7; :func:`~audiolens.interpret.layer_coherence`);
- ``removal.csv`` + ``removal.png``: per layer, the accuracy on ``x - s`` (``s`` the most active
  map's sonification), with the random-map and equal-energy-noise controls and the accuracy on
  ``x`` (paper figure 6; :func:`~audiolens.interpret.removal_experiment`). Needs a classifier;
  a pre-training checkpoint is refused with the fix (fine-tune or fc-only train it first);
- ``evolution.csv`` + ``evolution.png``: the coherence per layer of every
  ``checkpoints/epoch-K.ckpt`` beside the checkpoint (kept by ``checkpoint.every_n_epochs``),
  and ``evolution/epoch-K-layerL-mapM.wav|png``: the first input's sonification of the map most
  active under the final weights, at each example layer, as training went (paper figure 5);
- ``top_activating.csv``: for every map of the example layers, the ``top`` clips that activate
  it most (activation: the map's maximum over time), ``layer, feature_map, rank, clip, activation``;
- ``examples/``: for the first ``n_examples`` inputs, ``input-I.wav`` and, for the ``top`` most
  active maps of each example layer, ``input-I-layerL-mapM.wav`` with its spectrogram pair PNG;
- ``sonify.json``: the settings, checkpoint, dataset, chosen clip ids and every example (with its
  activation and coherence), which the report's ``sonification`` section reads.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import torch
from pydantic import Field

from audiolens._internal.config import Config, PositiveInt
from audiolens._internal.errors import DataError, ParameterError, unknown_choice
from audiolens._internal.paths import atomic_dir
from audiolens.engine.stages import Stage, register_stage

if TYPE_CHECKING:
    from audiolens.engine.run import Run

__all__ = ["ANALYSES", "SonifyConfig", "SonifyStage", "epoch_checkpoints", "sonify_dataset", "sonify_file"]

#: The dataset analyses, in the order they run.
ANALYSES = ("coherence", "removal", "evolution")

_EPOCH = re.compile(r"^epoch-(\d+)\.ckpt$")


class SonifyConfig(Config):
    """The ``sonify`` section (and the options of ``audiolens sonify --dataset``).

    Attributes:
        dataset: Registered labelled dataset (``None``: the run's ``data.name``).
        root: Its top folder (``None``: the run's ``data.root`` when the dataset is the run's,
            else the dataset's default below ``$AUDIOLENS_DATA``).
        kwargs: Dataset-specific options.
        split: ``test`` (official test split), ``all`` or ``fold=K``; ``None``: the run's test
            clips (``fold=K`` when ``data.test_folds`` is one fold, else the official test split).
        analyses: Any of ``coherence``, ``removal``, ``evolution``.
        layers: Layers L (1-based) to analyse (``None``: every block).
        n_inputs: Clips drawn from the split (all when fewer).
        example_layers: Layers with listenable examples (``None``: the first, middle and last).
        top: Most active maps per example layer and input.
        n_examples: Inputs with examples.
    """

    dataset: str | None = None
    root: str | None = None
    kwargs: dict[str, Any] = {}
    split: str | None = None
    analyses: list[Literal["coherence", "removal", "evolution"]] = Field(["coherence", "removal"], min_length=1)
    layers: list[PositiveInt] | None = None
    n_inputs: PositiveInt = 100
    example_layers: list[PositiveInt] | None = None
    top: PositiveInt = 3
    n_examples: PositiveInt = 2


def epoch_checkpoints(checkpoint: str | Path) -> list[tuple[int, Path]]:
    """``[(K, path)]`` of the ``epoch-K.ckpt`` files beside ``checkpoint``, by epoch."""
    folder = Path(checkpoint).parent
    found = [(int(m.group(1)), p) for p in folder.iterdir() if (m := _EPOCH.match(p.name))] if folder.is_dir() else []
    return sorted(found)


# ---------------------------------------------------------------------------------------------
# Model and inputs
# ---------------------------------------------------------------------------------------------


def _load(checkpoint: str | Path) -> tuple[Any, Any]:
    """The task module (eval, CPU) and its :class:`~audiolens.interpret.Sonifier`."""
    from audiolens.interpret import Sonifier
    from audiolens.training.probe import load_encoder_checkpoint

    module = load_encoder_checkpoint(checkpoint, "cpu")
    return module, Sonifier(module.model)


def _model_input(module: Any, waveform: torch.Tensor, checkpoint: str | Path) -> torch.Tensor:
    """The waveform ``(n_samples,)`` the model sees (its input pipeline applied).

    Raises:
        ParameterError: The pipeline gives a spectrogram, not a waveform.
    """
    with torch.no_grad():
        x = module.features(waveform.reshape(1, -1).float())[0]
    if x.dim() != 1:
        raise ParameterError(
            f"{checkpoint} feeds its model {tuple(x.shape)} features, not a waveform: sonification needs a "
            "raw-waveform model (features.type: waveform, e.g. cnn12)"
        )
    return x


def _layers(sonifier: Any, layers: Sequence[int] | None, key: str) -> list[int]:
    chosen = sorted(set(layers)) if layers else list(range(1, sonifier.n_layers + 1))
    wrong = [layer for layer in chosen if not 1 <= layer <= sonifier.n_layers]
    if wrong:
        raise ParameterError(f"{key} {wrong} out of range: the model has layers 1..{sonifier.n_layers}")
    return chosen


def _example_layers(sonifier: Any, settings: SonifyConfig) -> list[int]:
    if settings.example_layers:
        return _layers(sonifier, settings.example_layers, "example_layers")
    n = sonifier.n_layers
    return sorted({1, math.ceil(n / 2), n})


def _clips(module: Any, settings: SonifyConfig, seed: int, checkpoint: str | Path) -> tuple[list, list, list, Any]:
    """``(inputs, targets, ids, dataset)``: the chosen clips as model inputs, their labels and ids."""
    from audiolens.datasets import create_dataset
    from audiolens.training.evaluate import select_split

    if settings.dataset is None:
        raise ParameterError("sonify: name the dataset (sonify.dataset, or --dataset)")
    rate = int(module.sample_rate)
    dataset = create_dataset(settings.dataset, settings.root, sample_rate=rate, **settings.kwargs)
    try:
        indices = select_split(dataset, settings.split or "test")
    except ParameterError as error:
        raise ParameterError(f"sonify.split (--split): {error}") from None
    if not indices:
        raise DataError(f"sonify: split {settings.split or 'test'!r} of dataset {settings.dataset!r} is empty")
    rng = np.random.default_rng(seed)
    chosen = sorted(rng.choice(indices, size=min(settings.n_inputs, len(indices)), replace=False).tolist())
    n_samples = round(module.duration * rate) if getattr(module, "duration", None) else None
    shortest = int(getattr(module.model, "time_stride", 1))
    inputs = []
    for index in chosen:
        wave, _ = dataset.load_waveform(index)
        wave = wave[:n_samples]  # whole clips as the paper evaluates them: cut to the training length, not padded
        wave = torch.nn.functional.pad(wave, (0, max(0, shortest - wave.numel())))  # (but one output frame at least)
        inputs.append(_model_input(module, wave, checkpoint))
    targets = [dataset.records[i].target for i in chosen]
    ids = [dataset.records[i].id for i in chosen]
    return inputs, targets, ids, dataset


def _class_indices(module: Any, dataset: Any, targets: Sequence[Any], checkpoint: str | Path) -> list[int]:
    """Dataset targets as the checkpoint's class indices (matched by class name).

    Raises:
        ParameterError: A checkpoint without a classifier, or classes it does not know.
    """
    names = getattr(module, "class_names", None)
    if not names:
        raise ParameterError(
            f"removal needs a classifier, and {checkpoint} has none (a pre-training checkpoint): train a "
            "classifier on it first (model.init_checkpoint, with model.freeze for the fc-only model)"
        )
    position = {name: k for k, name in enumerate(names)}
    missing = sorted({dataset.class_names[t] for t in targets} - set(position))
    if missing:
        raise ParameterError(f"removal: classes {missing} of dataset {dataset.name!r} are not classes of {checkpoint}")
    return [position[dataset.class_names[t]] for t in targets]


# ---------------------------------------------------------------------------------------------
# Writing
# ---------------------------------------------------------------------------------------------


def _write_csv(path: Path, rows: Sequence[dict[str, Any]]) -> None:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    path.write_text(buffer.getvalue())


def _write_pairs(
    base: Path, subdir: str, stem: str, x: torch.Tensor, sounds: torch.Tensor, maps: Sequence[int], layer: int,
    rate: int, **info: Any,
) -> list[dict[str, Any]]:  # fmt: skip
    """``[stem-]layerL-mapM.wav`` and its spectrogram pair PNG per map in ``base/subdir``; their entries.

    Entries hold ``layer``, ``feature_map``, ``coherence`` (mean top-5 with ``x``), ``wav`` and
    ``png`` (relative to ``base``) and ``info``.
    """
    from audiolens.interpret import mean_top_coherence
    from audiolens.io import save_audio
    from audiolens.report import plot_sonification

    folder = base / subdir if subdir else base
    folder.mkdir(parents=True, exist_ok=True)
    entries = []
    for k, sound in zip(maps, sounds):
        name = f"{stem}-layer{layer}-map{k}" if stem else f"layer{layer}-map{k}"
        save_audio(folder / f"{name}.wav", sound, rate)
        plot_sonification(
            x.numpy(), sound.numpy(), rate, folder / f"{name}.png", title=f"layer {layer}, feature map {k}"
        )
        rel = f"{subdir}/{name}" if subdir else name
        entries.append({
            "layer": layer, "feature_map": int(k), "coherence": mean_top_coherence(x, sound, rate),
            "wav": f"{rel}.wav", "png": f"{rel}.png", **info,
        })  # fmt: skip
    return entries


def _examples(sonifier: Any, inputs: list, ids: list, layers: list[int], top: int, rate: int, out: Path) -> list[dict]:
    """Input WAVs and the top maps' sonification pairs of the example inputs (see the module doc)."""
    from audiolens.io import save_audio

    folder = out / "examples"
    folder.mkdir(parents=True, exist_ok=True)
    entries = []
    for i, (x, clip) in enumerate(zip(inputs, ids)):
        save_audio(folder / f"input-{i}.wav", x, rate)
        for layer in layers:
            activations = sonifier.activations(x, layer)[0]
            maps = activations.topk(min(top, len(activations))).indices.tolist()
            sounds = sonifier.sonify_all(x, layer, maps)
            for entry in _write_pairs(out, "examples", f"input-{i}", x, sounds, maps, layer, rate):
                entry.update(input=i, clip=clip, input_wav=f"examples/input-{i}.wav",
                             activation=float(activations[entry["feature_map"]]))  # fmt: skip
                entries.append(entry)
    return entries


def _top_rows(sonifier: Any, inputs: list, ids: list, layers: list[int], k: int) -> list[dict[str, Any]]:
    """``layer, feature_map, rank, clip, activation``: the ``k`` clips that activate each map most."""
    from audiolens.interpret import top_activating

    rows = []
    for layer in layers:
        indices, values = top_activating(sonifier, inputs, layer, k)
        for m in range(indices.shape[0]):
            for rank in range(indices.shape[1]):
                rows.append({"layer": layer, "feature_map": m, "rank": rank + 1,
                             "clip": ids[int(indices[m, rank])], "activation": float(values[m, rank])})  # fmt: skip
    return rows


def _evolution(
    checkpoints: list[tuple[int, Path]], inputs: list, layers: list[int], example_layers: list[int],
    final: Any, rate: int, out: Path,
) -> tuple[list[dict], list[dict]]:  # fmt: skip
    """Coherence rows per epoch checkpoint, and the first input's examples across epochs."""
    from audiolens.interpret import layer_coherence

    x = inputs[0]
    maps = {layer: int(final.activations(x, layer)[0].argmax()) for layer in example_layers}
    rows, entries = [], []
    for epoch, path in checkpoints:
        module, sonifier = _load(path)
        rows += [{"epoch": epoch, **row} for row in layer_coherence(sonifier, inputs, rate, layers)]
        for layer, k in maps.items():
            sound = sonifier.sonify_all(x, layer, [k])
            entries += _write_pairs(out, "evolution", f"epoch-{epoch}", x, sound, [k], layer, rate, epoch=epoch)
    return rows, entries


def sonify_dataset(
    checkpoint: str | Path, settings: SonifyConfig, out: str | Path, *, seed: int = 0, overwrite: bool = False
) -> dict[str, Any]:
    """Run the dataset analyses of ``settings`` on ``checkpoint`` and write them to ``out`` (see the module doc).

    Args:
        checkpoint: A classification or pre-training checkpoint of a raw-waveform CNN built from
            Conv1d-ReLU-[MaxPool1d] blocks (``cnn12`` family).
        settings: What to analyse (``settings.dataset`` must be set).
        out: The output folder (written atomically).
        seed: Seed of the clip draw, the random-map control and the noise.
        overwrite: Replace an existing ``out``.

    Returns:
        The summary written to ``sonify.json``.

    Raises:
        ParameterError: Not a raw-waveform CNN, layers out of range, an existing ``out``,
            ``removal`` without a classifier, ``evolution`` without ``epoch-K.ckpt`` files.
        DataError: Unreadable checkpoint or data.
    """
    from audiolens.interpret import layer_coherence, removal_experiment
    from audiolens.report import plot_layer_coherence, plot_removal

    with atomic_dir(out, overwrite=overwrite, marker="sonify.json") as staging:
        module, sonifier = _load(checkpoint)
        layers = _layers(sonifier, settings.layers, "layers")
        example_layers = _example_layers(sonifier, settings)
        epochs = epoch_checkpoints(checkpoint) if "evolution" in settings.analyses else []
        if "evolution" in settings.analyses and not epochs:
            raise ParameterError(
                f"evolution needs epoch-K.ckpt files beside {checkpoint}, and there are none: they are kept while "
                "the model trains, with checkpoint.every_n_epochs set from the start (it cannot be added afterwards)"
            )
        inputs, targets, ids, dataset = _clips(module, settings, seed, checkpoint)
        classes = _class_indices(module, dataset, targets, checkpoint) if "removal" in settings.analyses else None
        rate = int(module.sample_rate)
        summary: dict[str, Any] = {
            "checkpoint": str(checkpoint), "settings": settings.model_dump(mode="json"), "seed": seed,
            "sample_rate": rate, "n_layers": sonifier.n_layers, "clips": ids, "files": {},
        }  # fmt: skip
        summary["examples"] = _examples(
            sonifier, inputs[: settings.n_examples], ids, example_layers, settings.top, rate, staging
        )
        _write_csv(staging / "top_activating.csv", _top_rows(sonifier, inputs, ids, example_layers, settings.top))
        summary["files"]["top_activating"] = ["top_activating.csv"]
        if "coherence" in settings.analyses:
            rows = layer_coherence(sonifier, inputs, rate, layers)
            _write_csv(staging / "coherence.csv", rows)
            plot_layer_coherence({Path(checkpoint).parent.parent.name or "model": rows}, staging / "coherence.png")
            summary["files"]["coherence"] = ["coherence.csv", "coherence.png"]
        if "removal" in settings.analyses:
            rows = removal_experiment(sonifier, module, inputs, classes, layers, seed=seed)
            _write_csv(staging / "removal.csv", rows)
            plot_removal(rows, staging / "removal.png")
            summary["files"]["removal"] = ["removal.csv", "removal.png"]
        if "evolution" in settings.analyses:
            rows, summary["evolution"] = _evolution(epochs, inputs, layers, example_layers, sonifier, rate, staging)
            _write_csv(staging / "evolution.csv", rows)
            curves = {f"epoch {e}": [r for r in rows if r["epoch"] == e] for e, _ in epochs}
            plot_layer_coherence(curves, staging / "evolution.png", title="coherence per layer during training")
            summary["files"]["evolution"] = ["evolution.csv", "evolution.png"]
        (staging / "sonify.json").write_text(json.dumps(summary, indent=2))
    return summary


def sonify_file(
    checkpoint: str | Path,
    path: str | Path,
    layer: int,
    out: str | Path,
    *,
    feature_map: int | None = None,
    top: int | None = None,
    overwrite: bool = False,
) -> dict[str, Any]:
    """Sonify one audio file: ``input.wav``, the pairs of the chosen maps, ``sonification.json``.

    ``feature_map`` (0-based) names one map; ``top`` the ``top`` most active for this input.

    Raises:
        ParameterError: Neither or both of ``feature_map`` and ``top``, values out of range,
            not a raw-waveform CNN, an existing ``out``.
        DataError: Unreadable checkpoint or audio.
    """
    from audiolens.io import load_audio, save_audio

    if (feature_map is None) == (top is None):
        raise ParameterError("give one of --feature-map and --top")
    if top is not None and top < 1:
        raise ParameterError(f"--top must be >= 1, got {top}")
    with atomic_dir(out, overwrite=overwrite, marker="sonification.json") as staging:
        module, sonifier = _load(checkpoint)
        rate = int(module.sample_rate)
        waveform, _ = load_audio(path, rate)
        x = _model_input(module, waveform, checkpoint)
        activations = sonifier.activations(x, layer)[0]
        if feature_map is not None:
            if not 0 <= feature_map < len(activations):
                raise ParameterError(
                    f"--feature-map must be in 0..{len(activations) - 1} for layer {layer}, got {feature_map}"
                )
            maps = [feature_map]
        else:
            maps = activations.topk(min(top, len(activations))).indices.tolist()
        sounds = sonifier.sonify_all(x, layer, maps)
        save_audio(staging / "input.wav", x, rate)
        entries = _write_pairs(staging, "", "", x, sounds, maps, layer, rate)
        for entry in entries:
            entry["activation"] = float(activations[entry["feature_map"]])
        summary = {"checkpoint": str(checkpoint), "input": str(path), "sample_rate": rate, "maps": entries}
        (staging / "sonification.json").write_text(json.dumps(summary, indent=2))
    return summary


# ---------------------------------------------------------------------------------------------
# The stage
# ---------------------------------------------------------------------------------------------


@register_stage("sonify")
class SonifyStage(Stage):
    """Sonification analyses of the trained raw-waveform CNN (see the module doc)."""

    order = 55
    section = "sonify"
    schema = SonifyConfig | None
    default = None

    def check(self, exp: Any) -> None:
        """A known dataset; removal needs a classifier; evolution needs epoch checkpoints."""
        from audiolens.datasets import list_datasets

        settings = exp.sonify
        dataset = settings.dataset or exp.data.name
        if dataset is None:
            raise ParameterError("sonify.dataset: the run joins data.sources; name the dataset to sonify")
        if dataset not in list_datasets():
            raise unknown_choice("sonify.dataset", dataset, list_datasets())
        if "removal" in settings.analyses and exp.task.type == "pretrain":
            raise ParameterError(
                "sonify.analyses: removal needs a classifier, and task.type pretrain has none; drop removal here "
                "and run it on the fc-only model (model.init_checkpoint + model.freeze)"
            )
        if "evolution" in settings.analyses and not exp.checkpoint.every_n_epochs:
            raise ParameterError("sonify.analyses: evolution needs checkpoint.every_n_epochs (epoch-K.ckpt files)")

    def inputs(self, run: Run) -> list[str]:
        """The best checkpoint."""
        return ["checkpoints/best.ckpt"]

    def skip_reason(self, run: Run) -> str | None:
        """Not a raw-waveform CNN of ``Conv1d -> ReLU -> [MaxPool1d]`` blocks (the reason, for the report)."""
        from audiolens.interpret import Sonifier
        from audiolens.training.task import build_model

        features = run.exp.features
        if features.kind != "waveform":
            return (
                f"sonification maps feature maps back to the input waveform, and model {run.exp.model.name!r} reads "
                f"{features.kind!r} features (features.type {features.type}), not a raw waveform; use a raw-waveform "
                "CNN (features.type: waveform, e.g. model cnn12)"
            )
        try:
            Sonifier(build_model(run.exp.model.name, features, run.exp.model.kwargs, 0, "sonify"))
        except ParameterError as error:
            return f"model {run.exp.model.name!r} cannot be sonified: {error}"
        return None

    def execute(self, run: Run) -> list[str]:
        """Analyse ``best.ckpt`` into ``RUN/sonify/`` (replacing an older result)."""
        settings, data = run.exp.sonify, run.exp.data
        if settings.dataset in (None, data.name):  # the run's own data, and its test clips by default
            update = {
                "dataset": data.name,
                "root": settings.root or data.root,
                "kwargs": settings.kwargs or data.kwargs,
            }
            if settings.split is None:
                update["split"] = f"fold={data.test_folds[0]}" if data.test_folds else "test"
            settings = settings.model_copy(update=update)
        out = run.dir / "sonify"
        summary = sonify_dataset(
            run.dir / "checkpoints" / "best.ckpt", settings, out, seed=run.exp.seed, overwrite=True
        )
        written = sorted(p.relative_to(run.dir).as_posix() for p in out.rglob("*") if p.is_file())
        run.results["sonify"] = summary
        return written

    def describe(self, run: Run) -> str | None:
        """Coherence of the first and last layer analysed."""
        summary = run.results.get("sonify")
        path = run.dir / "sonify" / "coherence.csv"
        if not summary or not path.is_file():
            return None
        with path.open(newline="") as handle:
            rows = list(csv.DictReader(handle))
        return f"coherence L{rows[0]['layer']} {float(rows[0]['mean_top5_coherence']):.3f} -> " + (
            f"L{rows[-1]['layer']} {float(rows[-1]['mean_top5_coherence']):.3f}"
        )
