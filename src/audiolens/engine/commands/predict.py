"""``audiolens predict``: run a trained model over your own files and folders.

::

    audiolens predict (--checkpoint CKPT | --model FILE.onnx|.pt) PATH... [--recursive] [--top-k K] [--window S --hop S]
                      [--plot] --out predictions.csv|.jsonl [--overwrite]

- **Without ``--window``:** one clip-level result per file (the model's evaluation protocol:
  the file cut or padded to its training clip length), ``k`` rows ``path, label, score, rank``.
- **With ``--window``:** a timeline of each file (:meth:`~audiolens.inference.Predictor.timeline`,
  streamed from disk), ``k`` rows ``path, start_s, end_s, label, score, rank`` per window;
  ``--plot`` draws a class-activity PNG per file next to ``--out`` (``<out>-plots/``).
- ``.jsonl`` writes one JSON object per file (or per window), ``{"path", ["start_s", "end_s",]
  "top_k": [{"label", "score"}, ...]}``, instead of CSV rows.
- Folders are searched for files (``--recursive``: below too; hidden files skipped). A file that
  cannot be used (not audio, corrupt, empty, NaN samples) is listed with its reason in
  ``errors.csv`` next to ``--out`` and in the closing summary; the others are processed.
- ``--model`` runs an export of ``audiolens export`` (onnxruntime or TorchScript) instead of a
  checkpoint, with the same windows, padding and output.
- A progress bar counts files and seconds of audio. An existing ``--out`` is refused without
  ``--overwrite``.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
from pathlib import Path

from audiolens.engine.commands import Command, register_command


@register_command("predict")
class PredictCommand(Command):
    """Predict the classes of files and folders (see the module doc)."""

    help = "predict the classes of audio files and folders with a trained checkpoint (clips or timelines)"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        """Checkpoint, inputs, windows, output."""
        source = parser.add_mutually_exclusive_group(required=True)
        source.add_argument("--checkpoint", help="a classification checkpoint (.ckpt)")
        source.add_argument("--model", help="an export of audiolens export (.onnx or .pt)")
        parser.add_argument("paths", nargs="+", help="audio files and folders")
        parser.add_argument("--recursive", action="store_true", help="search folders below too")
        parser.add_argument("--top-k", type=int, default=5, help="classes per clip or window (default 5)")
        parser.add_argument("--window", type=float, help="window length in s: a timeline per file")
        parser.add_argument("--hop", type=float, help="hop between windows in s (default: window / 2)")
        parser.add_argument("--plot", action="store_true", help="a timeline PNG per file (with --window)")
        parser.add_argument("--out", required=True, help="predictions.csv or predictions.jsonl")
        parser.add_argument("--overwrite", action="store_true", help="replace an existing --out")
        parser.add_argument(
            "--device", default=None, help="cpu or cuda (checkpoints: cuda when available; exports: cpu)"
        )

    def run(self, args: argparse.Namespace) -> None:
        """Predict every file, write the results, the errors and a summary."""
        from tqdm import tqdm

        from audiolens._internal.errors import AudiolensError, ParameterError
        from audiolens._internal.paths import atomic_open, atomic_write_text
        from audiolens.inference import load_model
        from audiolens.io import audio_info, load_audio

        out = Path(args.out)
        if out.suffix not in (".csv", ".jsonl"):
            raise ParameterError(f"--out must end in .csv or .jsonl, got {out.name}")
        if out.exists() and not args.overwrite:
            raise ParameterError(f"--out {out} exists; pass --overwrite or choose another file")
        if args.top_k < 1:
            raise ParameterError(f"--top-k must be >= 1, got {args.top_k}")
        if args.window is None and (args.hop is not None or args.plot):
            raise ParameterError("--hop and --plot describe timelines: give --window too")
        hop = args.hop if args.hop is not None else (args.window / 2 if args.window else None)
        if args.window is not None and (not args.window > 0 or not hop > 0):
            raise ParameterError(f"--window and --hop must be > 0 s, got {args.window} and {hop}")
        files, errors = _collect(args.paths, args.recursive)
        if not files and not errors:
            raise ParameterError(f"no files found in {args.paths}; give audio files or folders that hold some")
        if args.model is not None:
            from audiolens.export import load_exported

            model = load_exported(args.model, args.device)
        else:
            model = load_model(args.checkpoint, args.device)
        seconds = {}
        for path in files:
            try:
                info = audio_info(path)
                seconds[path] = info.frames / info.samplerate
            except AudiolensError as err:
                errors.append((path, str(err)))
        plots = out.with_name(out.stem + "-plots")
        processed = done = 0
        windows = args.window is not None
        # rows go to a temporary file beside --out as each file is done (memory does not grow with
        # the number of files or windows); it becomes --out when the batch is complete
        with (
            atomic_open(out) as handle,
            tqdm(total=sum(seconds.values()), unit="s audio", desc="predict", dynamic_ncols=True) as bar,
        ):
            handle.write(_format([], out.suffix, windows, header=True).encode())
            for path, length in seconds.items():
                records: list[dict] = []
                consumed = [0.0]  # seconds the bar already moved for this file (timelines report blocks)

                def advance(block: float, consumed: list[float] = consumed, length: float = length) -> None:
                    step = min(block, max(0.0, length - consumed[0]))  # never past the file's length
                    consumed[0] += step
                    bar.update(step)

                try:
                    if args.window is None:
                        waveform, rate = load_audio(path, model.sample_rate)
                        result = model.predict(waveform, rate, top_k=args.top_k)
                        records += [
                            {"path": str(path), "label": label, "score": score, "rank": rank}
                            for rank, (label, score) in enumerate(result.top_k[0], start=1)
                        ]
                    else:
                        timeline = model.timeline(path, window=args.window, hop=hop, progress=advance)
                        records += _window_records(path, timeline, args.top_k)
                        if args.plot:
                            from audiolens.report import plot_timeline

                            name = f"{len(list(plots.glob('*.png'))):04d}-{Path(path).stem}.png"
                            plot_timeline(
                                timeline.start_s,
                                timeline.end_s,
                                timeline.probabilities,
                                timeline.class_names,
                                plots / name,
                                title=str(path),
                            )
                except AudiolensError as err:
                    errors.append((path, str(err)))
                handle.write(_format(records, out.suffix, windows, header=False).encode())
                done += bool(records)
                processed += 1
                bar.update(max(0.0, length - consumed[0]))
                bar.set_postfix(files=f"{processed}/{len(seconds)}")
        error_file = out.with_name("errors.csv")
        if errors:
            text = io.StringIO()
            writer = csv.writer(text, lineterminator="\n")
            writer.writerow(["path", "reason"])
            writer.writerows((str(p), reason) for p, reason in errors)
            atomic_write_text(error_file, text.getvalue())
        print(f"{done} file(s) predicted -> {out}" + (f"; timelines drawn in {plots}" if args.plot else ""))
        if errors:
            print(f"{len(errors)} file(s) could not be used (listed in {error_file}):")
            for path, reason in errors:
                print(f"  {path}: {reason}")


def _collect(paths: list[str], recursive: bool) -> tuple[list[Path], list[tuple[Path, str]]]:
    """Files to predict (in order, each once) and paths that are not usable, with reasons."""
    from audiolens.io import AUDIO_EXTENSIONS

    files: list[Path] = []
    errors: list[tuple[Path, str]] = []
    for given in paths:
        path = Path(given)
        if path.is_dir():
            pattern = "**/*" if recursive else "*"
            found = sorted(p for p in path.glob(pattern) if p.is_file() and not p.name.startswith("."))
            if not found:
                errors.append((path, "folder without files"))
            for candidate in found:
                if candidate.suffix.lower() in AUDIO_EXTENSIONS:
                    files.append(candidate)
                else:
                    formats = ", ".join(AUDIO_EXTENSIONS)
                    errors.append((candidate, f"not an audio file of a supported format ({formats})"))
        elif path.is_file():
            files.append(path)
        else:
            errors.append((path, "no such file or folder"))
    unique = list(dict.fromkeys(files))
    return unique, errors


def _window_records(path: Path, timeline, top_k: int) -> list[dict]:  # noqa: ANN001
    import numpy as np

    k = min(top_k, timeline.probabilities.shape[1])
    order = np.argsort(-timeline.probabilities, axis=1)[:, :k]
    return [
        {
            "path": str(path),
            "start_s": round(float(start), 6),
            "end_s": round(float(end), 6),
            "label": timeline.class_names[c],
            "score": float(row[c]),
            "rank": rank,
        }
        for start, end, row, classes in zip(timeline.start_s, timeline.end_s, timeline.probabilities, order)
        for rank, c in enumerate(classes.tolist(), start=1)
    ]


def _format(records: list[dict], suffix: str, windows: bool, *, header: bool) -> str:
    """``records`` as CSV rows (with the header row when ``header``) or JSON lines grouped per file/window."""
    columns = ["path", "start_s", "end_s", "label", "score", "rank"] if windows else ["path", "label", "score", "rank"]
    if suffix == ".jsonl":  # one object per file (or window) with its ranked classes
        groups: dict[tuple, dict] = {}
        for r in records:
            key = tuple(r[c] for c in columns if c not in ("label", "score", "rank"))
            entry = groups.setdefault(key, {c: r[c] for c in columns if c not in ("label", "score", "rank")})
            entry.setdefault("top_k", []).append({"label": r["label"], "score": r["score"]})
        return "".join(json.dumps(entry) + "\n" for entry in groups.values())
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=columns, lineterminator="\n")
    if header:
        writer.writeheader()
    writer.writerows({c: (f"{r[c]:.6f}" if c == "score" else r[c]) for c in columns} for r in records)
    return text.getvalue()
