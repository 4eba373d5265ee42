"""ESC-50 environmental sounds (50 classes, 5 folds) and its ESC-10 subset.

Layout: ``<root>/meta/esc50.csv`` (columns ``filename, fold, target, category, esc10,
src_file, take``) and ``<root>/audio/<filename>``. Audio is found by file stem with any
supported extension, so a FLAC copy whose CSV says ``.wav`` loads too. Folds come from the
CSV (cross-validate over them); there is no official train/test split.
"""

from __future__ import annotations

import os
from pathlib import Path

from audiolens._internal.errors import DataError, unknown_choice
from audiolens.datasets._tables import (
    check_sample_rate,
    check_unique_ids,
    index_classes,
    parse_bool,
    parse_int,
    read_csv_table,
    warn_missing,
)
from audiolens.datasets.base import AudioDataset, Record, find_audio, require_dir
from audiolens.datasets.registry import register_dataset

ESC50_LAYOUT = (
    "expected the ESC-50 layout <root>/meta/esc50.csv (columns filename, fold, target, "
    "category, esc10, src_file, take) and <root>/audio/<filename> (.wav, .flac or .ogg); "
    "download it with audiolens.datasets.download_dataset('esc50', root)"
)

#: Columns of ``meta/esc50.csv`` the loader needs.
ESC50_REQUIRED_COLUMNS = ("filename", "fold", "target", "category")

#: Accepted values of the ``subset`` argument.
ESC50_SUBSETS = ("esc50", "esc10")


@register_dataset("esc50", default_folder="esc50")
def load_esc50(
    root: str | os.PathLike | None,
    *,
    sample_rate: int | None = None,
    subset: str = "esc50",
) -> AudioDataset:
    """Build ESC-50 (or its ESC-10 subset) from ``root``.

    Args:
        root: Folder holding ``meta/esc50.csv`` and ``audio/`` (read-only).
        sample_rate: Rate (Hz) items are resampled to; ``None`` keeps each file's rate.
        subset: ``"esc50"`` (all rows) or ``"esc10"`` (rows whose ``esc10`` column is True;
            the 10 classes are re-indexed 0-9 in ascending order of their ESC-50 target).

    Returns:
        An :class:`AudioDataset` named ``"esc50"`` (also for ``subset="esc10"``):
        ``class_names`` the categories ordered by target, ``fold`` from the CSV, ``split``
        ``None``, ``id`` the file stem. Class names come from the whole CSV, so a partial copy
        keeps all classes; rows whose audio is missing are skipped with one warning giving
        their count.

    Raises:
        DataError: Missing root, CSV or ``audio/`` folder; empty CSV; missing columns
            (named); bad cells; no listed audio file found.
        ParameterError: Unknown ``subset`` or bad ``sample_rate``.
    """
    if subset not in ESC50_SUBSETS:
        raise unknown_choice("esc50 subset", subset, ESC50_SUBSETS)
    sample_rate = check_sample_rate(sample_rate)
    root = require_dir(root, "esc50", ESC50_LAYOUT)
    csv_path = root / "meta" / "esc50.csv"
    required = ESC50_REQUIRED_COLUMNS + (("esc10",) if subset == "esc10" else ())
    rows = read_csv_table(csv_path, required, "esc50", ESC50_LAYOUT)
    if subset == "esc10":
        rows = [(line, row) for line, row in rows if parse_bool(row["esc10"], "esc10", csv_path, line)]
        if not rows:
            raise DataError(f"esc50: no row of {csv_path} has esc10 = True")

    parsed = []
    for line, row in rows:
        filename = row["filename"]
        if not filename:
            raise DataError(f"{csv_path}, line {line}: column 'filename' is empty")
        fold = parse_int(row["fold"], "fold", csv_path, line, minimum=1)
        target = parse_int(row["target"], "target", csv_path, line, minimum=0)
        parsed.append((Path(filename).stem, fold, target, row["category"]))
    class_names, remap = index_classes(((t, c) for _, _, t, c in parsed), csv_path)

    audio_dir = root / "audio"
    if not audio_dir.is_dir():
        raise DataError(f"esc50: folder {audio_dir} not found; {ESC50_LAYOUT}")
    records: list[Record] = []
    missing: list[str] = []
    for stem, fold, target, _ in parsed:
        path = find_audio(audio_dir, stem)
        if path is None:
            missing.append(stem)
            continue
        records.append(Record(path, remap[target], fold, None, stem))
    if not records:
        raise DataError(
            f"esc50: none of the {len(parsed)} files listed in {csv_path} was found in {audio_dir}; {ESC50_LAYOUT}"
        )
    warn_missing("esc50", missing, len(parsed), csv_path, audio_dir)
    check_unique_ids(records, "esc50", csv_path)
    return AudioDataset("esc50", root, records, class_names, sample_rate)
