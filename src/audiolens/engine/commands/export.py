"""``audiolens export --checkpoint CKPT [--format onnx|torchscript] --out FILE [--overwrite]``.

Writes the checkpoint's front-end and model as one graph from raw waveform at the model's
sample rate to class probabilities, with dynamic batch and length axes, verified against
PyTorch before the file is kept (:func:`audiolens.export.export_model`). Run it with
``audiolens predict --model FILE`` or any ONNX / TorchScript runtime.
"""

from __future__ import annotations

import argparse

from audiolens.engine.commands import Command, register_command


@register_command("export")
class ExportCommand(Command):
    """Export a classification checkpoint to ONNX or TorchScript."""

    help = "export a checkpoint's front-end and model to ONNX or TorchScript (raw waveform in, probabilities out)"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        """Checkpoint, format, output."""
        parser.add_argument("--checkpoint", required=True, help="a classification checkpoint (.ckpt)")
        parser.add_argument("--format", help="onnx or torchscript (default: from the suffix of --out)")
        parser.add_argument("--out", required=True, help="the file to write (.onnx or .pt)")
        parser.add_argument("--overwrite", action="store_true", help="replace an existing --out")

    def run(self, args: argparse.Namespace) -> None:
        """Export, verify, write and describe the file."""
        from audiolens.export import export_model, read_export_metadata

        path = export_model(args.checkpoint, args.out, args.format, overwrite=args.overwrite)
        meta = read_export_metadata(path)
        print(
            f"{path}: waveform (batch, n_samples >= {meta['min_samples']}) at {meta['sample_rate']} Hz -> "
            f"probabilities (batch, {len(meta['class_names'])}); trained on {meta['duration']} s clips; "
            "matches PyTorch within 1e-4"
        )
