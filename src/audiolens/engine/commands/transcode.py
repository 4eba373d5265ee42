"""``audiolens transcode --checkpoint CKPT INPUT --out DIR``: third-octave data (or audio) to Mel and predictions.

Writes into ``DIR``:

- ``mel.npy``: the transcoded log-Mel ``(n_mels, n_frames)`` (float32, the target's log units);
- ``predictions.csv``: per block of 1 s, ``block, start_s, end_s`` and the teacher's top-5
  classes with their scores (``class_1, score_1, ...``);
- ``mel.png``: the Mel spectrogram (drawn by :mod:`audiolens.report`).

``INPUT`` is a ``.wav`` / ``.flac`` / ``.ogg`` recording (analysed at the transcoder's
third-octave rate) or ``.csv`` / ``.npy`` third-octave levels as a monitoring network delivers
them (:func:`~audiolens.io.load_third_octave`). Files of any length are processed in 1 s blocks
(:func:`~audiolens.training.transcoder.transcode_file`). An existing non-empty ``DIR`` is
refused without ``--overwrite``.
"""

from __future__ import annotations

import argparse
import csv
import io
from pathlib import Path

from audiolens.engine.commands import Command, register_command


@register_command("transcode")
class TranscodeCommand(Command):
    """Transcode a file with a transcoder checkpoint (see the module doc)."""

    help = "transcode third-octave data (or audio) to Mel with a transcoder checkpoint, and classify it"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        """Checkpoint, input, output folder."""
        parser.add_argument("--checkpoint", required=True, help="a checkpoint of a task.type: transcoder run")
        parser.add_argument("input", help="a .wav/.flac/.ogg recording or .csv/.npy third-octave levels")
        parser.add_argument("--out", required=True, help="output folder (mel.npy, predictions.csv, mel.png)")
        parser.add_argument("--overwrite", action="store_true", help="replace files in an existing --out folder")
        parser.add_argument("--top-k", type=int, default=5, help="classes per block in predictions.csv (default 5)")
        parser.add_argument("--device", default=None, help="cpu or cuda (default: cuda when available)")

    def run(self, args: argparse.Namespace) -> None:
        """Transcode, write the three files, print a summary."""
        import numpy as np

        from audiolens._internal.errors import DataError, ParameterError
        from audiolens._internal.paths import atomic_open, atomic_write_text
        from audiolens.report import plot_mels
        from audiolens.training import default_device
        from audiolens.training.tasks import checkpoint_task, load_checkpoint
        from audiolens.training.transcoder import transcode_file

        out = Path(args.out)
        if out.exists() and (not out.is_dir() or any(out.iterdir())) and not args.overwrite:
            raise ParameterError(f"--out {out} exists and is not empty; pass --overwrite or choose another folder")
        if args.top_k < 1:
            raise ParameterError(f"--top-k must be >= 1, got {args.top_k}")
        plugin = checkpoint_task(args.checkpoint)
        if plugin.name != "transcoder":
            raise DataError(
                f"{args.checkpoint} is a checkpoint of task {plugin.name!r}, not a transcoder; give the "
                "checkpoints/best.ckpt of a task.type: transcoder run"
            )
        module = load_checkpoint(args.checkpoint, args.device or default_device())
        result = transcode_file(module, args.input)
        out.mkdir(parents=True, exist_ok=True)
        with atomic_open(out / "mel.npy") as handle:
            np.save(handle, result.mel.numpy().astype(np.float32))
        k = min(args.top_k, result.probs.shape[1])
        scores, classes = result.probs.topk(k, dim=1)
        text = io.StringIO()
        writer = csv.writer(text, lineterminator="\n")
        writer.writerow(
            ["block", "start_s", "end_s", *[f"{c}_{i}" for i in range(1, k + 1) for c in ("class", "score")]]
        )
        for block in range(len(classes)):
            start = block * result.block_seconds
            end = min(start + result.block_seconds, result.seconds)
            ranked = [
                cell
                for c, s in zip(classes[block].tolist(), scores[block].tolist())
                for cell in (result.class_names[c], f"{s:.6f}")
            ]
            writer.writerow([block, f"{start:.3f}", f"{end:.3f}", *ranked])
        atomic_write_text(out / "predictions.csv", text.getvalue())
        frames_per_second = result.mel.shape[1] / (len(classes) * result.block_seconds)
        unit = "dB" if module.target.log == "db" else "ln"
        plot_mels(
            [("transcoded", result.mel.numpy())],
            out / "mel.png",
            frames_per_second=frames_per_second,
            title=f"{Path(args.input).name}: transcoded Mel ({module.loss_name})",
            unit=unit,
        )
        top = result.class_names[int(result.probs.mean(dim=0).argmax())]
        print(
            f"{args.input}: {result.seconds:.2f} s, {len(classes)} block(s) -> mel.npy {tuple(result.mel.shape)}, "
            f"predictions.csv, mel.png in {out} (most likely overall: {top})"
        )
