"""``audiolens evaluate --checkpoint CKPT [CKPT ...] --dataset NAME [--data-root PATH] [--split S] --out FILE.json``."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from audiolens.engine.commands import Command, register_command


@register_command("evaluate")
class EvaluateCommand(Command):
    """Evaluate checkpoints (an ensemble when several) on a dataset, through their task's evaluation."""

    help = "evaluate checkpoints (an ensemble if several) on a dataset"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        """Checkpoints, dataset, split, output."""
        parser.add_argument("--checkpoint", nargs="+", required=True, help="checkpoint(s); probabilities are averaged")
        parser.add_argument("--dataset", required=True, help="dataset name (fsdd, esc50, speech_commands, folder, ...)")
        parser.add_argument("--data-root", help="the dataset's own top folder")
        parser.add_argument("--split", default="test", help="test (official split), all, or fold=K")
        parser.add_argument("--out", required=True, help="output JSON file")
        parser.add_argument("--device", default=None, help="cpu or cuda (default: cuda when available)")

    def run(self, args: argparse.Namespace) -> None:
        """Write and print the metrics."""
        from audiolens._internal.errors import DataError
        from audiolens._internal.paths import atomic_write_text
        from audiolens.training import EvaluateEntry, default_device
        from audiolens.training.tasks import checkpoint_task

        checkpoints = [Path(c) for c in args.checkpoint]
        plugins = {str(c): checkpoint_task(c) for c in checkpoints}
        if len({p.name for p in plugins.values()}) > 1:
            tasks = {c: p.name for c, p in plugins.items()}
            raise DataError(f"the checkpoints come from different tasks {tasks}; an ensemble needs one task")
        plugin = next(iter(plugins.values()))
        entry = EvaluateEntry(name=args.dataset, root=args.data_root, split=args.split)
        plugin.check_evaluate(entry)
        result = plugin.evaluate(checkpoints, entry, args.device or default_device())
        atomic_write_text(Path(args.out), json.dumps(result, indent=2))
        print(json.dumps({k: v for k, v in result.items() if k != "confusion"}))
