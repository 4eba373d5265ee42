"""The ``audiolens`` command line.

Commands::

    audiolens run [EXPERIMENT.yaml] [--out DIR] [--set key=value ...] [--overwrite] [--resume]
    audiolens evaluate --checkpoint CKPT [CKPT ...] --dataset NAME --data-root PATH
                       [--split test|all|fold=K] --out FILE.json
    audiolens models list [--filter PATTERN]
    audiolens data download NAME --root PATH [--force]

Errors from bad input (:class:`~audiolens.AudiolensError`) are printed as one line
``audiolens: error: ...`` with exit status 2, never as a traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from audiolens._internal.errors import AudiolensError, ParameterError
from audiolens._internal.paths import atomic_write_text

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every sub-command."""
    parser = argparse.ArgumentParser(
        prog="audiolens", description="Learn, transcode and look inside audio representations."
    )
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="train, evaluate and report one experiment")
    run.add_argument("experiment", nargs="?", help="experiment YAML (default: configs/quickstart.yaml)")
    run.add_argument("--out", help="run folder (default: runs/<experiment name>)")
    run.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config key, e.g. --set trainer.max_epochs=5 (repeatable)",
    )
    run.add_argument("--overwrite", action="store_true", help="replace an existing run folder")
    run.add_argument("--resume", action="store_true", help="continue a run from its last checkpoint")

    ev = sub.add_parser("evaluate", help="evaluate checkpoints (an ensemble if several) on a dataset")
    ev.add_argument("--checkpoint", nargs="+", required=True, help="checkpoint(s); probabilities are averaged")
    ev.add_argument("--dataset", required=True, help="dataset name (fsdd, esc50, speech_commands, folder, ...)")
    ev.add_argument("--data-root", help="the dataset's own top folder")
    ev.add_argument("--split", default="test", help="test (official split), all, or fold=K")
    ev.add_argument("--out", required=True, help="output JSON file")
    ev.add_argument("--device", default=None, help="cpu or cuda (default: cuda when available)")

    models = sub.add_parser("models", help="model registry")
    models_sub = models.add_subparsers(dest="models_command", required=True)
    models_list = models_sub.add_parser("list", help="list registered models")
    models_list.add_argument("--filter", default="", help="fnmatch pattern, e.g. 'cnn*'")

    data = sub.add_parser("data", help="datasets")
    data_sub = data.add_subparsers(dest="data_command", required=True)
    download = data_sub.add_parser("download", help="download and verify a dataset")
    download.add_argument("name")
    download.add_argument("--root", required=True, help="folder to download into")
    download.add_argument("--force", action="store_true", help="download again even if present")
    return parser


def _select(dataset, split: str) -> list[int]:
    records = dataset.records
    if split == "all":
        return list(range(len(records)))
    if split == "test":
        chosen = [i for i, r in enumerate(records) if r.split == "test"]
        if not chosen:
            raise ParameterError(
                f"dataset {dataset.name!r} at {dataset.root} has no official test split; "
                "use --split all or --split fold=K"
            )
        return chosen
    if split.startswith("fold="):
        try:
            fold = int(split.split("=", 1)[1])
        except ValueError as exc:
            raise ParameterError(f"--split {split!r}: K must be an integer") from exc
        if fold not in dataset.folds:
            raise ParameterError(f"--split {split}: dataset {dataset.name!r} has folds {dataset.folds or 'none'}")
        return [i for i, r in enumerate(records) if r.fold == fold]
    raise ParameterError(f"--split must be test, all or fold=K, got {split!r}")


def _evaluate(args: argparse.Namespace) -> None:
    from audiolens.datasets import create_dataset
    from audiolens.training.evaluate import evaluate_checkpoints
    from audiolens.training.experiment import default_device

    dataset = create_dataset(args.dataset, args.data_root)
    indices = _select(dataset, args.split)
    metrics, _, _ = evaluate_checkpoints(args.checkpoint, dataset, indices, device=args.device or default_device())
    result = {
        **metrics,
        "checkpoints": [str(c) for c in args.checkpoint],
        "dataset": args.dataset,
        "data_root": args.data_root,
        "split": args.split,
    }
    atomic_write_text(Path(args.out), json.dumps(result, indent=2))
    print(json.dumps(result))


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``audiolens`` console script; returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        if args.command == "run":
            from audiolens.cli.run import run_experiment

            run_dir = run_experiment(
                args.experiment, out=args.out, overrides=args.overrides, overwrite=args.overwrite, resume=args.resume
            )
            print(f"run folder: {run_dir}")
        elif args.command == "evaluate":
            _evaluate(args)
        elif args.command == "models":
            from audiolens.models import list_models, model_family

            for name in list_models(args.filter):
                print(f"{name}\t{model_family(name)}")
        elif args.command == "data":
            from audiolens.datasets import download_dataset

            path = download_dataset(args.name, args.root, force=args.force)
            print(f"{args.name}: ready in {path}")
    except AudiolensError as exc:
        print(f"audiolens: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
