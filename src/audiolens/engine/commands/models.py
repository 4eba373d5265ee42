"""``audiolens models list [--filter PATTERN]`` and ``audiolens models convert NAME FILE --out OUT``."""

from __future__ import annotations

import argparse

from audiolens.engine.commands import Command, register_command


@register_command("models")
class ModelsCommand(Command):
    """The model registry."""

    help = "model registry"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        """``list``."""
        sub = parser.add_subparsers(dest="models_command", required=True)
        listing = sub.add_parser("list", help="list registered models and their families")
        listing.add_argument("--filter", default="", help="fnmatch pattern, e.g. 'cnn*'")
        convert = sub.add_parser("convert", help="convert an official weights file into a state dict for NAME")
        convert.add_argument("name", help="model with a converter (e.g. yamnet)")
        convert.add_argument("file", help="the official weights file (e.g. yamnet.h5)")
        convert.add_argument("--out", required=True, help="output .pt file (a state dict for model.init_checkpoint)")

    def run(self, args: argparse.Namespace) -> None:
        """``list``: print ``name<TAB>family`` lines; ``convert``: write the converted state dict."""
        from audiolens import models

        if args.models_command == "list":
            for name in models.list_models(args.filter):
                print(f"{name}\t{models.model_family(name)}")
            return
        import torch

        from audiolens._internal.errors import DataError
        from audiolens._internal.paths import atomic_open

        state = models.CONVERTERS.get(args.name)(args.file)
        try:
            models.create_model(args.name).load_state_dict(state, strict=True)
        except RuntimeError as err:
            raise DataError(f"{args.file}: the converted weights do not fit model {args.name!r}: {err}") from None
        with atomic_open(args.out) as handle:
            torch.save(state, handle)
        print(f"{args.name}: {len(state)} tensors from {args.file} -> {args.out} (loads with strict=True)")
