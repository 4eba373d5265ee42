"""Free Spoken Digit Dataset (FSDD): spoken digits 0-9, one file per utterance.

Layout: ``<root>/recordings/{digit}_{speaker}_{index}.wav`` (also ``.flac``/``.ogg``), 8 kHz
mono in the official release. Classes are the digits ``"0"``..``"9"``. Each speaker is one
fold (1-based position of the speaker in the sorted speaker names, ``fold_names`` lists
them), so cross-validation over folds is leave-one-speaker-out. Official split: utterances
with ``index`` 0-4 are ``"test"``, the others ``"train"``.
"""

from __future__ import annotations

import os
import re
import warnings
from pathlib import Path

from audiolens._internal.errors import DataError
from audiolens.datasets._tables import check_sample_rate, name_some
from audiolens.datasets.base import AudioDataset, Record, require_dir
from audiolens.datasets.registry import register_dataset
from audiolens.io import AUDIO_EXTENSIONS

FSDD_LAYOUT = (
    "expected the Free Spoken Digit Dataset layout "
    "<root>/recordings/{digit}_{speaker}_{index}.wav (e.g. recordings/0_george_0.wav); "
    "download it with audiolens.datasets.download_dataset('fsdd', root)"
)

#: ``{digit}_{speaker}_{index}``: one digit, any speaker name, a non-negative index.
FSDD_PATTERN = re.compile(r"^(?P<digit>[0-9])_(?P<speaker>.+)_(?P<index>[0-9]+)$")

#: Utterances with an index up to this value form the official test split.
FSDD_TEST_MAX_INDEX = 4


@register_dataset("fsdd", default_folder="fsdd")
def load_fsdd(root: str | os.PathLike | None, *, sample_rate: int | None = None) -> AudioDataset:
    """Build the Free Spoken Digit Dataset from ``root``.

    Args:
        root: Folder holding ``recordings/`` (read-only).
        sample_rate: Rate (Hz) items are resampled to; ``None`` keeps the files' 8 kHz.

    Returns:
        An :class:`AudioDataset` named ``"fsdd"``: ``class_names`` ``["0", ..., "9"]``,
        ``target`` the digit, ``fold`` the 1-based speaker index into ``fold_names`` (sorted
        speaker names), ``split`` ``"test"`` for index <= 4 else ``"train"``, ``id`` the
        file stem. Files whose names do not match ``{digit}_{speaker}_{index}`` are skipped
        with one warning naming them.

    Raises:
        DataError: Missing root or ``recordings/`` folder, or no file matching the pattern.
        ParameterError: Bad ``sample_rate``.
    """
    sample_rate = check_sample_rate(sample_rate)
    root = require_dir(root, "fsdd", FSDD_LAYOUT)
    recordings = root / "recordings"
    if not recordings.is_dir():
        raise DataError(f"fsdd: folder {recordings} not found; {FSDD_LAYOUT}")

    rank = {ext: k for k, ext in enumerate(AUDIO_EXTENSIONS)}
    chosen: dict[str, tuple[int, str, str, int, Path]] = {}
    skipped: list[str] = []
    for path in sorted(recordings.iterdir()):
        if path.name.startswith(".") or not path.is_file():
            continue
        ext = path.suffix.lower()
        match = FSDD_PATTERN.match(path.stem) if ext in rank else None
        if match is None:
            skipped.append(path.name)
            continue
        # One record per stem: prefer the extension listed first in AUDIO_EXTENSIONS.
        previous = chosen.get(path.stem)
        if previous is None or rank[ext] < previous[0]:
            chosen[path.stem] = (
                rank[ext],
                match["digit"],
                match["speaker"],
                int(match["index"]),
                path,
            )
    if not chosen:
        raise DataError(
            f"fsdd: no file in {recordings} matches {{digit}}_{{speaker}}_{{index}}"
            f"{'/'.join(AUDIO_EXTENSIONS)} ({len(skipped)} other file(s) found); {FSDD_LAYOUT}"
        )
    if skipped:
        warnings.warn(
            f"fsdd: skipped {len(skipped)} file(s) in {recordings} whose names do not match "
            f"{{digit}}_{{speaker}}_{{index}}.wav: {name_some(skipped)}",
            stacklevel=2,
        )

    speakers = sorted({entry[2] for entry in chosen.values()})
    fold_of = {speaker: k + 1 for k, speaker in enumerate(speakers)}
    entries = sorted(chosen.items(), key=lambda item: (item[1][1], item[1][2], item[1][3]))
    records = [
        Record(
            path=path,
            target=int(digit),
            fold=fold_of[speaker],
            split="test" if index <= FSDD_TEST_MAX_INDEX else "train",
            id=stem,
        )
        for stem, (_, digit, speaker, index, path) in entries
    ]
    return AudioDataset(
        name="fsdd",
        root=root,
        records=records,
        class_names=[str(d) for d in range(10)],
        sample_rate=sample_rate,
        fold_names=speakers,
    )
