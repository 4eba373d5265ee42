"""``audiolens sonify``: listen to what a raw-waveform CNN's feature maps respond to.

::

    audiolens sonify --checkpoint CKPT --input FILE --layer L (--feature-map K | --top K) --out DIR [--overwrite]

The input is read and resampled to the model's rate (:func:`audiolens.io.load_audio`), passed
through the checkpoint's input pipeline (unit peak for ``cnn12``), and the chosen maps of block
``L`` (1-based) are sonified (:class:`audiolens.interpret.Sonifier`): ``--feature-map K`` one
map (0-based), ``--top K`` the ``K`` most active maps for this input. ``DIR`` receives:

- ``input.wav`` (the model's input) and ``layer{L}-map{K}.wav`` per map;
- ``layer{L}-map{K}.png``: the input and sonification spectrograms side by side (:mod:`audiolens.report`);
- ``sonification.json``: per map ``layer``, ``feature_map``, ``activation`` (the map's
  maximum over time), ``coherence`` (mean top-5 magnitude-squared coherence with the input),
  ``wav``, ``png``; and the checkpoint, input and sample rate.

The folder is written in a temporary sibling and renamed when complete; an existing ``DIR`` is
refused without ``--overwrite``. The dataset analyses (coherence and removal per layer,
training-time evolution) are not yet a CLI mode (issue 11); use
:func:`audiolens.interpret.layer_coherence` and :func:`audiolens.interpret.removal_experiment`.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
from pathlib import Path

from audiolens.engine.commands import Command, register_command


@register_command("sonify")
class SonifyCommand(Command):
    """Sonify feature maps of a raw-waveform CNN checkpoint for one input file."""

    help = "sonify the feature maps of a raw-waveform CNN (deconvnet): WAV and spectrogram pairs"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        """Checkpoint, input, layer and maps, output."""
        parser.add_argument("--checkpoint", required=True, help="a checkpoint of a cnn12-family model (.ckpt)")
        parser.add_argument("--input", required=True, help="an audio file (any rate: resampled to the model's)")
        parser.add_argument("--layer", type=int, required=True, help="block index L, 1-based as in the paper")
        which = parser.add_mutually_exclusive_group(required=True)
        which.add_argument("--feature-map", type=int, help="one feature map, 0-based")
        which.add_argument("--top", type=int, help="the K most active feature maps for this input")
        parser.add_argument("--out", required=True, help="output folder")
        parser.add_argument("--overwrite", action="store_true", help="replace an existing --out")

    def run(self, args: argparse.Namespace) -> None:
        """Sonify, write the WAV/PNG pairs and the JSON summary."""
        import torch

        from audiolens._internal.errors import ParameterError
        from audiolens.interpret import Sonifier, mean_top_coherence
        from audiolens.io import load_audio, save_audio
        from audiolens.report import plot_sonification
        from audiolens.training.probe import load_encoder_checkpoint

        out = Path(args.out)
        if out.exists() and not args.overwrite:
            raise ParameterError(f"--out {out} exists; pass --overwrite or choose another folder")
        if args.top is not None and args.top < 1:
            raise ParameterError(f"--top must be >= 1, got {args.top}")
        module = load_encoder_checkpoint(args.checkpoint, "cpu")
        sonifier = Sonifier(module.model)
        rate = int(module.sample_rate)
        waveform, _ = load_audio(args.input, rate)
        with torch.no_grad():
            x = module.features(waveform.reshape(1, -1))[0]  # the input pipeline (unit peak for cnn12)
        if x.dim() != 1:
            raise ParameterError(
                f"{args.checkpoint} feeds its model {tuple(x.shape)} features, not a waveform: sonification needs a "
                "raw-waveform model (features.type: waveform, e.g. cnn12)"
            )
        activations = sonifier.activations(x, args.layer)[0]
        if args.feature_map is not None:
            maps = [args.feature_map]
            if not 0 <= args.feature_map < len(activations):
                raise ParameterError(
                    f"--feature-map must be in 0..{len(activations) - 1} for layer {args.layer}, got {args.feature_map}"
                )
        else:
            maps = activations.topk(min(args.top, len(activations))).indices.tolist()
        sounds = sonifier.sonify_all(x, args.layer, maps)
        out.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
        try:
            save_audio(staging / "input.wav", x, rate)
            entries = []
            for k, sound in zip(maps, sounds):
                stem = f"layer{args.layer}-map{k}"
                save_audio(staging / f"{stem}.wav", sound, rate)
                plot_sonification(x.numpy(), sound.numpy(), rate, staging / f"{stem}.png",
                                  title=f"layer {args.layer}, feature map {k}")  # fmt: skip
                entries.append({
                    "layer": args.layer, "feature_map": k, "activation": float(activations[k]),
                    "coherence": mean_top_coherence(x, sound, rate), "wav": f"{stem}.wav", "png": f"{stem}.png",
                })  # fmt: skip
            summary = {"checkpoint": str(args.checkpoint), "input": str(args.input), "sample_rate": rate,
                       "maps": entries}  # fmt: skip
            (staging / "sonification.json").write_text(json.dumps(summary, indent=2))
            if out.exists():
                shutil.rmtree(out)
            staging.rename(out)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        print(f"{len(entries)} sonification(s) of layer {args.layer} -> {out}")
