"""UrbanSound8K: 8732 urban sound excerpts (<= 4 s), 10 classes, 10 predefined folds.

Layout: ``<root>/metadata/UrbanSound8K.csv`` (columns ``slice_file_name, fsID, start, end,
salience, fold, classID, class``) and ``<root>/audio/fold{K}/<slice_file_name>``. Audio is
found by file stem with any supported extension. Folds come from the CSV (the official
protocol is 10-fold cross-validation over them); there is no train/test split.
"""

from __future__ import annotations

import os
from pathlib import Path

from audiolens._internal.errors import DataError
from audiolens.datasets._tables import (
    check_sample_rate,
    check_unique_ids,
    index_classes,
    parse_int,
    read_csv_table,
    warn_missing,
)
from audiolens.datasets.base import AudioDataset, Record, find_audio, require_dir
from audiolens.datasets.registry import register_dataset

URBANSOUND8K_LAYOUT = (
    "expected the UrbanSound8K layout <root>/metadata/UrbanSound8K.csv (columns "
    "slice_file_name, fsID, start, end, salience, fold, classID, class) and "
    "<root>/audio/fold<K>/<slice_file_name> (.wav, .flac or .ogg); download it with "
    "audiolens.datasets.download_dataset('urbansound8k', root)"
)

#: Columns of ``metadata/UrbanSound8K.csv`` the loader needs (the others may be absent/empty).
URBANSOUND8K_REQUIRED_COLUMNS = ("slice_file_name", "fold", "classID", "class")


@register_dataset("urbansound8k", default_folder="urbansound8k")
def load_urbansound8k(root: str | os.PathLike | None, *, sample_rate: int | None = None) -> AudioDataset:
    """Build UrbanSound8K from ``root``.

    Args:
        root: Folder holding ``metadata/`` and ``audio/`` (read-only).
        sample_rate: Rate (Hz) items are resampled to; ``None`` keeps each file's rate
            (UrbanSound8K files have various rates and channel counts; items are mono).

    Returns:
        An :class:`AudioDataset` named ``"urbansound8k"``: ``class_names`` ordered by
        ``classID``, ``fold`` from the CSV, ``split`` ``None``, ``id`` the file stem. Class
        names come from the whole CSV, so a copy holding only some folds keeps all classes;
        rows whose audio is missing are skipped with one warning giving their count.

    Raises:
        DataError: Missing root or CSV; empty CSV; missing columns (named); bad cells; no
            listed audio file found.
        ParameterError: Bad ``sample_rate``.
    """
    sample_rate = check_sample_rate(sample_rate)
    root = require_dir(root, "urbansound8k", URBANSOUND8K_LAYOUT)
    csv_path = root / "metadata" / "UrbanSound8K.csv"
    rows = read_csv_table(csv_path, URBANSOUND8K_REQUIRED_COLUMNS, "urbansound8k", URBANSOUND8K_LAYOUT)
    parsed = []
    for line, row in rows:
        filename = row["slice_file_name"]
        if not filename:
            raise DataError(f"{csv_path}, line {line}: column 'slice_file_name' is empty")
        fold = parse_int(row["fold"], "fold", csv_path, line, minimum=1)
        class_id = parse_int(row["classID"], "classID", csv_path, line, minimum=0)
        parsed.append((Path(filename).stem, fold, class_id, row["class"]))
    class_names, remap = index_classes(((c, n) for _, _, c, n in parsed), csv_path)

    audio_dir = root / "audio"
    records: list[Record] = []
    missing: list[str] = []
    for stem, fold, class_id, _ in parsed:
        path = find_audio(audio_dir / f"fold{fold}", stem)
        if path is None:
            missing.append(f"fold{fold}/{stem}")
            continue
        records.append(Record(path, remap[class_id], fold, None, stem))
    if not records:
        raise DataError(
            f"urbansound8k: none of the {len(parsed)} files listed in {csv_path} was found "
            f"under {audio_dir}; {URBANSOUND8K_LAYOUT}"
        )
    warn_missing("urbansound8k", missing, len(parsed), csv_path, audio_dir)
    check_unique_ids(records, "urbansound8k", csv_path)
    return AudioDataset("urbansound8k", root, records, class_names, sample_rate)
