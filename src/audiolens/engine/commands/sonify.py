"""``audiolens sonify``: listen to what a raw-waveform CNN's feature maps respond to.

::

    audiolens sonify --checkpoint CKPT --input FILE --layer L (--feature-map K | --top K) --out DIR
    audiolens sonify --checkpoint CKPT --dataset NAME [--data-root PATH] [--split test|all|fold=K]
        --analysis coherence|removal|evolution [...] [--layers L ...] [--n-inputs N] [--seed S] --out DIR

**File mode** (:func:`~audiolens.engine.stages.sonify.sonify_file`): the input is read and
resampled to the model's rate, passed through the checkpoint's input pipeline (unit peak for
``cnn12``), and the chosen maps of block ``L`` (1-based) are sonified: ``--feature-map K`` one map
(0-based), ``--top K`` the ``K`` most active maps for this input. ``DIR`` receives ``input.wav``,
``layer{L}-map{K}.wav`` and its spectrogram pair ``layer{L}-map{K}.png`` per map, and
``sonification.json`` (per map ``layer``, ``feature_map``, ``activation`` (the map's maximum over
time), ``coherence`` (mean top-5 magnitude-squared coherence with the input), ``wav``, ``png``).

**Dataset mode** (:func:`~audiolens.engine.stages.sonify.sonify_dataset`, the code of the
``sonify`` stage of ``audiolens run``): ``coherence.csv``, ``removal.csv``, ``evolution.csv``
with their plots, listenable examples and ``sonify.json``; see
:mod:`audiolens.engine.stages.sonify`.

Either way the folder is written in a temporary sibling and renamed when complete; an existing
``DIR`` is refused without ``--overwrite``.
"""

from __future__ import annotations

import argparse

from audiolens.engine.commands import Command, register_command


@register_command("sonify")
class SonifyCommand(Command):
    """Sonify feature maps of a raw-waveform CNN checkpoint: one file, or analyses over a dataset."""

    help = "sonify the feature maps of a raw-waveform CNN (deconvnet): WAV/spectrogram pairs, coherence, removal"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        """Checkpoint; file mode or dataset mode; output (``--analysis`` is checked by ``SonifyConfig``)."""
        parser.add_argument("--checkpoint", required=True, help="a checkpoint of a cnn12-family model (.ckpt)")
        source = parser.add_mutually_exclusive_group(required=True)
        source.add_argument("--input", help="file mode: an audio file (any rate: resampled to the model's)")
        source.add_argument("--dataset", help="dataset mode: a registered labelled dataset (fsdd, esc50, ...)")
        parser.add_argument("--layer", type=int, help="file mode: block index L, 1-based as in the paper")
        which = parser.add_mutually_exclusive_group()
        which.add_argument("--feature-map", type=int, help="file mode: one feature map, 0-based")
        which.add_argument("--top", type=int, help="file mode: the K most active maps; dataset mode: per example")
        parser.add_argument("--data-root", help="dataset mode: the dataset's folder (default: below $AUDIOLENS_DATA)")
        parser.add_argument("--split", default="test", help="dataset mode: test (default), all or fold=K")
        parser.add_argument("--analysis", nargs="+", help="dataset mode: coherence, removal and/or evolution")
        parser.add_argument("--layers", type=int, nargs="+", help="dataset mode: layers to analyse (default all)")
        parser.add_argument("--n-inputs", type=int, default=100, help="dataset mode: clips drawn from the split")
        parser.add_argument("--seed", type=int, default=0, help="dataset mode: seed of the clip draw and controls")
        parser.add_argument("--out", required=True, help="output folder")
        parser.add_argument("--overwrite", action="store_true", help="replace an existing --out")

    def run(self, args: argparse.Namespace) -> None:
        """Run the chosen mode."""
        from audiolens._internal.config import validate
        from audiolens._internal.errors import ParameterError
        from audiolens.engine.stages.sonify import SonifyConfig, sonify_dataset, sonify_file

        if args.input is not None:
            if args.layer is None or (args.feature_map is None and args.top is None):
                raise ParameterError("file mode (--input) needs --layer and one of --feature-map / --top")
            summary = sonify_file(args.checkpoint, args.input, args.layer, args.out, feature_map=args.feature_map,
                                  top=args.top, overwrite=args.overwrite)  # fmt: skip
            print(f"{len(summary['maps'])} sonification(s) of layer {args.layer} -> {args.out}")
            return
        if not args.analysis:
            raise ParameterError("dataset mode (--dataset) needs --analysis coherence|removal|evolution")
        if args.layer is not None or args.feature_map is not None:
            raise ParameterError("--layer and --feature-map are for file mode (--input); use --layers here")
        given = {"dataset": args.dataset, "root": args.data_root, "split": args.split, "analyses": args.analysis,
                 "layers": args.layers, "n_inputs": args.n_inputs}  # fmt: skip
        if args.top is not None:
            given["top"] = args.top
        settings = validate(SonifyConfig, given, "sonify")
        summary = sonify_dataset(args.checkpoint, settings, args.out, seed=args.seed, overwrite=args.overwrite)
        files = [f for names in summary["files"].values() for f in names if f.endswith(".csv")]
        print(f"{', '.join(settings.analyses)} on {len(summary['clips'])} clips of {args.dataset} -> {args.out}: "
              f"{', '.join(files)}, {len(summary['examples'])} example(s)")  # fmt: skip
