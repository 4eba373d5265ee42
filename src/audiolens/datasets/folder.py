"""Your own audio: class subfolders, a CSV manifest, or a plain folder of unlabelled files.

Three layouts are read:

- class subfolders: ``root/<class>/<file>.wav`` (any depth below the class folder; class names
  are the sorted folder names; no folds, no splits);
- a CSV manifest (``manifest="file.csv"``): columns ``path`` (or ``filename``) relative to
  ``root``, ``label`` (one class) or ``labels`` (multi-label: the classes present, separated
  by ``;``, possibly none), and optionally ``fold`` (1-based int) and ``split``
  (``train``/``validation``/``test``); empty optional cells mean "none";
- unlabelled (``labelled=False``): every audio file below ``root`` at any depth, no classes
  (self-supervised pre-training on your own recordings).
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

from audiolens._internal.errors import DataError, ParameterError
from audiolens.datasets._tables import (
    audio_files,
    check_sample_rate,
    check_unique_ids,
    name_some,
    parse_int,
    read_csv_table,
    warn_missing,
)
from audiolens.datasets.base import NO_TARGET, SPLITS, AudioDataset, Record, find_audio, require_dir
from audiolens.datasets.registry import register_dataset

FOLDER_LAYOUT = (
    "expected either class subfolders <root>/<class>/<file>.wav (also .flac, .ogg) or a CSV "
    "manifest given with manifest='file.csv' (columns path or filename, label or labels; optional fold, "
    "split), or audio files anywhere below <root> with labelled=False"
)

#: Separator of the class names in a manifest's ``labels`` column (multi-label).
LABEL_SEPARATOR = ";"


@register_dataset("folder")
def load_folder(
    root: str | os.PathLike | None,
    *,
    sample_rate: int | None = None,
    manifest: str | os.PathLike | None = None,
    labelled: bool = True,
) -> AudioDataset:
    """Build a dataset from class subfolders, a CSV manifest, or unlabelled files.

    Args:
        root: Top folder (read-only). Subfolder layout: ``root/<class>/...audio files``;
            hidden folders and folders without audio are ignored, class names are sorted.
        sample_rate: Rate (Hz) items are resampled to; ``None`` keeps each file's rate.
        manifest: CSV file (relative to ``root`` or absolute) with columns ``path`` (or
            ``filename``; relative to ``root``) and ``label`` (single-label) or ``labels``
            (multi-label, ``;``-separated), optionally ``fold`` (int >= 1) and ``split``
            (``train``/``validation``/``test``). Class names are the sorted distinct labels. A
            listed file that does not exist is also looked for by stem with any supported
            extension; files still missing are skipped with one warning.
        labelled: ``False`` reads every audio file below ``root`` (any depth, hidden folders
            skipped) as unlabelled audio (``target_type="none"``); no manifest then.

    Returns:
        An :class:`AudioDataset` named ``"folder"``. Ids are the file paths relative to
        ``root`` without extension (e.g. ``"dog/0001"``).

    Raises:
        DataError: Missing root or manifest, a manifest without the required columns, bad
            ``fold``/``split`` cells, or no audio found.
        ParameterError: Bad ``sample_rate``; ``manifest`` with ``labelled=False``.
    """
    sample_rate = check_sample_rate(sample_rate)
    root = require_dir(root, "folder", FOLDER_LAYOUT)
    if not labelled:
        if manifest is not None:
            raise ParameterError("folder: labelled=False reads every audio file below root; do not give a manifest")
        return _unlabelled(root, sample_rate)
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


def _unlabelled(root: Path, sample_rate: int | None) -> AudioDataset:
    files = audio_files(root)
    if not files:
        raise DataError(f"folder: no audio files found below {root}; {FOLDER_LAYOUT}")
    records = [Record(path, NO_TARGET, None, None, path.relative_to(root).with_suffix("").as_posix()) for path in files]
    check_unique_ids(records, "folder", root)
    return AudioDataset("folder", root, records, [], sample_rate, target_type="none")


def _from_manifest(root: Path, manifest: Path, sample_rate: int | None) -> AudioDataset:
    csv_path = manifest if manifest.is_absolute() else root / manifest
    if not csv_path.is_file():
        raise DataError(f"folder: manifest {csv_path} not found; {FOLDER_LAYOUT}")
    rows = read_csv_table(csv_path, (), "folder", FOLDER_LAYOUT)
    columns = set(rows[0][1])
    if ("label" in columns) == ("labels" in columns):
        raise DataError(
            f"folder: manifest {csv_path} needs exactly one of the columns 'label' (one class per file) or "
            f"'labels' (multi-label, classes separated by '{LABEL_SEPARATOR}'); it has {', '.join(sorted(columns))}"
        )
    multilabel = "labels" in columns
    path_column = "path" if "path" in columns else "filename" if "filename" in columns else None
    if path_column is None:
        raise DataError(
            f"folder: manifest {csv_path} lacks the required column 'path' (or 'filename'); "
            f"it has {', '.join(sorted(columns))}"
        )

    def labels_of(row: dict[str, str]) -> list[str]:
        if multilabel:
            return [x.strip() for x in row["labels"].split(LABEL_SEPARATOR) if x.strip()]
        return [row["label"]] if row["label"] else []

    class_names = sorted({name for _, row in rows for name in labels_of(row)})
    target_of = {name: k for k, name in enumerate(class_names)}
    records: list[Record] = []
    missing: list[str] = []
    for line, row in rows:
        rel, labels = row.get(path_column, ""), labels_of(row)
        if not rel:
            raise DataError(f"{csv_path}, line {line}: column {path_column!r} is empty")
        if not labels and not multilabel:
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
        target = tuple(sorted(target_of[x] for x in set(labels))) if multilabel else target_of[labels[0]]
        records.append(Record(path, target, fold, split, ident))
    warn_missing("folder", missing, len(rows), csv_path, root)
    if not records:
        raise DataError(f"folder: none of the {len(rows)} files listed in {csv_path} exist under {root}")
    if not class_names:
        raise DataError(f"folder: manifest {csv_path} names no class in its 'labels' column")
    check_unique_ids(records, "folder", csv_path)
    return AudioDataset(
        "folder", root, records, class_names, sample_rate, target_type="multilabel" if multilabel else "class"
    )
