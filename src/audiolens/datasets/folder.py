"""Your own audio: class subfolders or a CSV manifest.

Two layouts are read:

- class subfolders: ``root/<class>/<file>.wav`` (any depth below the class folder; class names
  are the sorted folder names; no folds, no splits);
- a CSV manifest (``manifest="file.csv"``): columns ``path`` (or ``filename``) relative to
  ``root``, ``label``, and optionally ``fold`` (1-based int) and ``split``
  (``train``/``validation``/``test``); empty optional cells mean "none".
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

from audiolens._internal.errors import DataError
from audiolens.datasets._tables import (
    audio_files,
    check_sample_rate,
    check_unique_ids,
    name_some,
    parse_int,
    read_csv_table,
    warn_missing,
)
from audiolens.datasets.base import SPLITS, AudioDataset, Record, find_audio, require_dir

FOLDER_LAYOUT = (
    "expected either class subfolders <root>/<class>/<file>.wav (also .flac, .ogg) or a CSV "
    "manifest given with manifest='file.csv' (columns path or filename, label; optional fold, "
    "split)"
)


def load_folder(
    root: str | os.PathLike | None,
    *,
    sample_rate: int | None = None,
    manifest: str | os.PathLike | None = None,
) -> AudioDataset:
    """Build a dataset from class subfolders or from a CSV manifest.

    Args:
        root: Top folder (read-only). Subfolder layout: ``root/<class>/...audio files``;
            hidden folders and folders without audio are ignored, class names are sorted.
        sample_rate: Rate (Hz) items are resampled to; ``None`` keeps each file's rate.
        manifest: CSV file (relative to ``root`` or absolute) with columns ``path`` (or
            ``filename``; relative to ``root``) and ``label``, optionally ``fold`` (int >= 1)
            and ``split`` (``train``/``validation``/``test``). Class names are the sorted
            distinct labels. A listed file that does not exist is also looked for by stem
            with any supported extension; files still missing are skipped with one warning.

    Returns:
        An :class:`AudioDataset` named ``"folder"``. Ids are the file paths relative to
        ``root`` without extension (e.g. ``"dog/0001"``).

    Raises:
        DataError: Missing root or manifest, a manifest without the required columns, bad
            ``fold``/``split`` cells, or no audio found.
        ParameterError: Bad ``sample_rate``.
    """
    sample_rate = check_sample_rate(sample_rate)
    root = require_dir(root, "folder", FOLDER_LAYOUT)
    if manifest is not None:
        return _from_manifest(root, Path(manifest).expanduser(), sample_rate)
    class_dirs = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    class_names: list[str] = []
    records: list[Record] = []
    empty = []
    for class_dir in class_dirs:
        files = audio_files(class_dir)
        if not files:
            empty.append(class_dir.name)
            continue
        target = len(class_names)
        class_names.append(class_dir.name)
        for path in files:
            rel = path.relative_to(root).with_suffix("").as_posix()
            records.append(Record(path, target, None, None, rel))
    if not records:
        raise DataError(f"folder: no audio files found in class subfolders of {root}; {FOLDER_LAYOUT}")
    if empty:
        warnings.warn(
            f"folder: ignoring subfolder(s) of {root} without audio files: {name_some(empty)}",
            stacklevel=2,
        )
    check_unique_ids(records, "folder", root)
    return AudioDataset("folder", root, records, class_names, sample_rate)


def _from_manifest(root: Path, manifest: Path, sample_rate: int | None) -> AudioDataset:
    csv_path = manifest if manifest.is_absolute() else root / manifest
    if not csv_path.is_file():
        raise DataError(f"folder: manifest {csv_path} not found; {FOLDER_LAYOUT}")
    rows = read_csv_table(csv_path, ("label",), "folder", FOLDER_LAYOUT)
    columns = set(rows[0][1])
    path_column = "path" if "path" in columns else "filename" if "filename" in columns else None
    if path_column is None:
        raise DataError(
            f"folder: manifest {csv_path} lacks the required column 'path' (or 'filename'); "
            f"it has {', '.join(sorted(columns))}"
        )
    class_names = sorted({row["label"] for _, row in rows if row["label"]})
    target_of = {name: k for k, name in enumerate(class_names)}
    records: list[Record] = []
    missing: list[str] = []
    for line, row in rows:
        rel, label = row.get(path_column, ""), row["label"]
        if not rel:
            raise DataError(f"{csv_path}, line {line}: column {path_column!r} is empty")
        if not label:
            raise DataError(f"{csv_path}, line {line}: column 'label' is empty")
        fold_cell = row.get("fold", "")
        fold = parse_int(fold_cell, "fold", csv_path, line, minimum=1) if fold_cell else None
        split = row.get("split", "") or None
        if split is not None and split not in SPLITS:
            raise DataError(
                f"{csv_path}, line {line}: column 'split' must be one of {', '.join(SPLITS)} or empty, got {split!r}"
            )
        listed = root / rel
        path = listed if listed.is_file() else find_audio(listed.parent, listed.stem)
        if path is None:
            missing.append(rel)
            continue
        try:
            ident = listed.relative_to(root).with_suffix("").as_posix()
        except ValueError:  # absolute path outside root
            ident = listed.with_suffix("").as_posix()
        records.append(Record(path, target_of[label], fold, split, ident))
    warn_missing("folder", missing, len(rows), csv_path, root)
    if not records:
        raise DataError(f"folder: none of the {len(rows)} files listed in {csv_path} exist under {root}")
    check_unique_ids(records, "folder", csv_path)
    return AudioDataset("folder", root, records, class_names, sample_rate)
