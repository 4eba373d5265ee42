"""``audiolens probe``: a linear (or MLP) probe on the frozen scene embeddings of an encoder.

::

    audiolens probe (--checkpoint CKPT | --model NAME [--features PRESET]) --dataset NAME
                    [--data-root PATH] [--probe linear|mlp] [--test-folds K ... | --protocol split] --out FILE.json

``--checkpoint``: the encoder of a ``pretrain`` (or classification) run with its own front-end.
``--model``: the same registry encoder randomly initialised (``--seed``), the baseline, through
the same embedding code. Writes ``{"accuracy", "accuracy_mean", "accuracy_std", "per_fold",
"probe", "n", ...}`` (:func:`~audiolens.training.probe.probe_dataset`).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from audiolens.engine.commands import Command, register_command


@register_command("probe")
class ProbeCommand(Command):
    """Probe an encoder's embeddings on a labelled dataset (see the module doc)."""

    help = "train a linear or MLP probe on frozen embeddings of a checkpoint (or a random encoder)"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        """Encoder, dataset, probe, folds, output."""
        source = parser.add_mutually_exclusive_group(required=True)
        source.add_argument("--checkpoint", help="checkpoint of a pretrain or classification run")
        source.add_argument("--model", help="registry encoder with random weights (the baseline)")
        parser.add_argument("--features", help="log-Mel preset of --model (default: the model's, e.g. abt)")
        parser.add_argument("--dataset", required=True, help="labelled dataset (esc50, fsdd, folder, ...)")
        parser.add_argument("--data-root", help="the dataset's own top folder")
        parser.add_argument("--probe", default="linear", choices=["linear", "mlp"], help="probe (default linear)")
        parser.add_argument("--test-folds", type=int, nargs="+", help="only these test folds (default: every fold)")
        parser.add_argument(
            "--protocol",
            default="folds",
            choices=["folds", "split"],
            help="folds: leave-one-fold-out (default); split: the official train/test split (FSDD: speakers seen)",
        )
        parser.add_argument("--seed", type=int, default=0, help="random encoder, validation split, MLP (default 0)")
        parser.add_argument("--out", required=True, help="output JSON file")
        parser.add_argument("--device", default=None, help="cpu or cuda (default: cuda when available)")

    def run(self, args: argparse.Namespace) -> None:
        """Embed, probe, write and print the result."""
        from audiolens._internal.errors import ParameterError
        from audiolens._internal.paths import atomic_write_text
        from audiolens.datasets import create_dataset
        from audiolens.training import default_device
        from audiolens.training.probe import Embedder, probe_dataset

        device = args.device or default_device()
        if args.checkpoint:
            if args.features:
                raise ParameterError("--features applies to --model; a checkpoint brings its own front-end")
            embedder = Embedder.from_checkpoint(args.checkpoint, device)
        else:
            from audiolens.models import model_input_kinds

            features = None
            if args.features:
                kinds = model_input_kinds(args.model)
                if kinds and "logmel" not in kinds:
                    raise ParameterError(
                        f"--features names a log-Mel preset, but model {args.model!r} takes {' or '.join(kinds)} "
                        "input; drop --features (the model's own input pipeline is the default)"
                    )
                features = {"type": "logmel", "preset": args.features, "normalize": "dataset"}
            embedder = Embedder.random(args.model, features, seed=args.seed, device=device)
        dataset = create_dataset(args.dataset, args.data_root, sample_rate=embedder.sample_rate)
        result = probe_dataset(
            embedder, dataset, probe=args.probe, test_folds=args.test_folds, seed=args.seed, protocol=args.protocol
        )
        atomic_write_text(Path(args.out), json.dumps(result, indent=2))
        summary = {k: result[k] for k in ("accuracy", "accuracy_std", "probe", "n", "encoder")}
        print(json.dumps(summary))
