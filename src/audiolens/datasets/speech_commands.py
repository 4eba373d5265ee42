"""Google Speech Commands (v0.01 / v0.02): one-second spoken words, one folder per word.

Layout: ``<root>/<label>/<speaker>_nohash_<n>.wav``; every folder is a class except
``_background_noise_`` and hidden folders. ``<root>/validation_list.txt`` and
``<root>/testing_list.txt`` (one relative path per line, e.g. ``yes/0a7c2a8d_nohash_0.wav``)
give the official split: listed files are ``"validation"`` / ``"test"``, all others
``"train"``. Without either list, ``split`` is ``None``. Files are matched by
``label/stem``, so a FLAC copy of the dataset uses the same lists.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from audiolens._internal.errors import DataError, ParameterError, unknown_choice
from audiolens.datasets._tables import audio_files, check_sample_rate
from audiolens.datasets.base import AudioDataset, Record, require_dir
from audiolens.datasets.registry import register_dataset

SPEECH_COMMANDS_LAYOUT = (
    "expected the Speech Commands layout <root>/<label>/<file>.wav (one folder per word, "
    "plus optional _background_noise_/, validation_list.txt and testing_list.txt); download "
    "it with audiolens.datasets.download_dataset('speech_commands', root)"
)

#: Folder of long noise recordings: not a class.
BACKGROUND_NOISE_FOLDER = "_background_noise_"

#: Split lists and the split their files belong to.
SPLIT_LISTS = {"validation_list.txt": "validation", "testing_list.txt": "test"}


@register_dataset("speech_commands", default_folder="speech_commands")
def load_speech_commands(
    root: str | os.PathLike | None,
    *,
    sample_rate: int | None = None,
    classes: Sequence[str] | None = None,
) -> AudioDataset:
    """Build Speech Commands from ``root``.

    Args:
        root: Folder holding one subfolder per word (read-only).
        sample_rate: Rate (Hz) items are resampled to; ``None`` keeps the files' 16 kHz.
        classes: Optional words to keep (e.g. ``["yes", "no"]``); ``class_names`` follows
            this order. ``None`` keeps every word folder, sorted by name.

    Returns:
        An :class:`AudioDataset` named ``"speech_commands"``: ``fold`` ``None``, ``split``
        from the lists (``None`` without lists), ``id`` ``"label/stem"``.

    Raises:
        DataError: Missing root, no word folders, or no audio files.
        ParameterError: ``classes`` naming a word that has no folder, or bad ``sample_rate``.
    """
    sample_rate = check_sample_rate(sample_rate)
    root = require_dir(root, "speech_commands", SPEECH_COMMANDS_LAYOUT)
    available = sorted(
        p.name
        for p in root.iterdir()
        if p.is_dir() and not p.name.startswith(".") and p.name != BACKGROUND_NOISE_FOLDER
    )
    if not available:
        raise DataError(f"speech_commands: no word folders in {root}; {SPEECH_COMMANDS_LAYOUT}")
    if classes is None:
        class_names = available
    else:
        if isinstance(classes, str) or not all(isinstance(c, str) for c in classes):
            raise ParameterError(f"speech_commands: classes must be a list of words, got {classes!r}")
        class_names = list(dict.fromkeys(classes))
        if not class_names:
            raise ParameterError("speech_commands: classes is empty; give at least one word")
        for name in class_names:
            if name not in available:
                raise unknown_choice("speech_commands class", name, available)

    split_of: dict[str, str] = {}
    have_lists = False
    for list_name, split in SPLIT_LISTS.items():
        list_path = root / list_name
        if not list_path.is_file():
            continue
        have_lists = True
        for line in list_path.read_text(encoding="utf-8").splitlines():
            line = line.strip().replace("\\", "/")
            if line:
                split_of[_key(line)] = split

    records: list[Record] = []
    for target, label in enumerate(class_names):
        for path in audio_files(root / label):
            key = path.relative_to(root).with_suffix("").as_posix()
            split = split_of.get(key, "train") if have_lists else None
            records.append(Record(path, target, None, split, key))
    if not records:
        raise DataError(
            f"speech_commands: no audio files in the folders {', '.join(class_names)} of "
            f"{root}; {SPEECH_COMMANDS_LAYOUT}"
        )
    return AudioDataset("speech_commands", root, records, class_names, sample_rate)


def _key(relative: str) -> str:
    """``"yes/0a7c2a8d_nohash_0.wav"`` -> ``"yes/0a7c2a8d_nohash_0"``."""
    return Path(relative.removeprefix("./")).with_suffix("").as_posix()
