"""SONYC-UST: 10 s urban recordings from the SONYC sensor network, multi-label tags (8 coarse, 23 fine).

Layout (Zenodo releases v2.x, DCASE 2020 task 5): ``<root>/annotations.csv`` with one row per
``(audio_filename, annotator_id)`` and the columns ``split`` (``train``, ``validate``, ``test``),
``audio_filename``, ``annotator_id`` and one ``<tag>_presence`` column per tag: coarse
``1_engine_presence`` ... ``8_dog_presence``, fine ``1-1_small-sounding-engine_presence`` ...
(the ``X`` "uncertain" fine tags are not classes). Audio is found by file stem in
``<root>/audio/``, ``<root>/<split>/`` or ``<root>/audio-eval/`` (v1 and v2 layouts).

Targets follow the SONYC-UST baseline (``sonyc-project/dcase2020task5-uststc-baseline``,
``classify.py`` ``get_file_targets``, ``get_subset_split``): a training file's tags are those
whose presence values summed over the citizen annotators (``annotator_id > 0``) are positive; a
validation or test file's tags are
those of the SONYC team's verified annotation (``annotator_id == 0``), and such a file without a
verified annotation is left out. Splits: ``train``, ``validation`` (the release's ``validate``),
``test``; there are no folds.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Literal

from audiolens._internal.errors import DataError, ParameterError
from audiolens.datasets._tables import check_sample_rate, check_unique_ids, read_csv_table, warn_missing
from audiolens.datasets.base import AudioDataset, Record, find_audio, require_dir
from audiolens.datasets.registry import register_dataset

SONYC_UST_LAYOUT = (
    "expected the SONYC-UST layout <root>/annotations.csv (columns split, audio_filename, annotator_id and "
    "<tag>_presence per tag) and the audio in <root>/audio/ (or <root>/train/, <root>/validate/); download it "
    "from https://zenodo.org/record/3966543 (annotations.csv and the audio archives)"
)

#: The columns every row needs besides the tags.
SONYC_UST_REQUIRED_COLUMNS = ("split", "audio_filename", "annotator_id")

_COARSE = re.compile(r"^(\d+)_([A-Za-z-]+)_presence$")
_FINE = re.compile(r"^(\d+)-(\d+)_([A-Za-z-]+)_presence$")
_SPLITS = {"train": "train", "validate": "validation", "test": "test"}


def _tag_columns(header: list[str], level: str) -> list[str]:
    if level == "coarse":
        columns = [c for c in header if _COARSE.match(c)]
        return sorted(columns, key=lambda c: int(_COARSE.match(c).group(1)))
    columns = [c for c in header if _FINE.match(c)]
    return sorted(columns, key=lambda c: tuple(int(g) for g in _FINE.match(c).groups()[:2]))


def _value(value: str) -> float:
    try:
        return float(value)
    except ValueError:
        return 0.0  # empty cells: not annotated


@register_dataset("sonyc_ust", default_folder="sonyc_ust")
def load_sonyc_ust(
    root: str | os.PathLike | None,
    *,
    sample_rate: int | None = None,
    level: Literal["coarse", "fine"] = "coarse",
) -> AudioDataset:
    """Build SONYC-UST from ``root`` (see the module doc).

    Args:
        root: Folder holding ``annotations.csv`` and the audio (read-only).
        sample_rate: Rate (Hz) items are resampled to; ``None`` keeps the file's (44.1 kHz).
        level: ``coarse`` (8 tags, the paper's table 3) or ``fine`` (23 tags, ``X`` tags left out).

    Returns:
        A multi-label :class:`AudioDataset` named ``"sonyc_ust"``: ``class_names`` the tag names
        in taxonomy order (``engine``, ``machinery-impact``, ...), ``split`` per file, ``id`` the
        file stem. Files whose audio is missing are skipped with one warning.

    Raises:
        DataError: Missing root or CSV, missing columns (named), no tag column, bad
            ``annotator_id`` cells, no listed audio found.
        ParameterError: Bad ``sample_rate`` or ``level``.
    """
    sample_rate = check_sample_rate(sample_rate)
    if level not in ("coarse", "fine"):
        raise ParameterError(f"sonyc_ust: level must be 'coarse' or 'fine', got {level!r}")
    root = require_dir(root, "sonyc_ust", SONYC_UST_LAYOUT)
    csv_path = root / "annotations.csv"
    rows = read_csv_table(csv_path, SONYC_UST_REQUIRED_COLUMNS, "sonyc_ust", SONYC_UST_LAYOUT)
    header = list(rows[0][1]) if rows else []
    columns = _tag_columns(header, level)  # the fine pattern leaves out the uncertain X tags
    if not columns:
        raise DataError(f"{csv_path}: no {level} <tag>_presence column; {SONYC_UST_LAYOUT}")
    names = [c.split("_", 1)[1].rsplit("_presence", 1)[0] for c in columns]
    counts: dict[str, list[float]] = {}
    split_of: dict[str, str] = {}
    verified: set[str] = set()
    for line, row in rows:
        filename, split = row["audio_filename"], row["split"]
        if split not in _SPLITS:
            raise DataError(f"{csv_path}, line {line}: split {split!r} is not train, validate or test")
        try:
            annotator = int(float(row["annotator_id"]))
        except ValueError:
            raise DataError(f"{csv_path}, line {line}: annotator_id {row['annotator_id']!r} is not a number") from None
        split_of[filename] = split
        counts.setdefault(filename, [0.0] * len(columns))
        if split == "train" and annotator <= 0:
            continue  # training targets: the citizen annotators
        if split != "train" and annotator != 0:
            continue  # validation / test targets: the verified annotation only
        if split != "train":
            verified.add(filename)
        for k, column in enumerate(columns):  # summed raw values, then > 0, as the baseline
            counts[filename][k] += _value(row[column])
    tags = {f: {k for k, v in enumerate(c) if v > 0} for f, c in counts.items()}
    records: list[Record] = []
    missing: list[str] = []
    for filename in sorted(tags):
        split = split_of[filename]
        if split != "train" and filename not in verified:
            continue
        stem = Path(filename).stem
        path = next(
            (p for folder in ("audio", split, "audio-eval") if (p := find_audio(root / folder, stem)) is not None),
            None,
        )
        if path is None:
            missing.append(filename)
            continue
        records.append(Record(path, tuple(sorted(tags[filename])), None, _SPLITS[split], stem))
    if not records:
        raise DataError(f"sonyc_ust: none of the {len(tags)} files listed in {csv_path} was found; {SONYC_UST_LAYOUT}")
    warn_missing("sonyc_ust", missing, len(missing) + len(records), csv_path, root / "audio")
    check_unique_ids(records, "sonyc_ust", csv_path)
    return AudioDataset("sonyc_ust", root, records, names, sample_rate, target_type="multilabel")
