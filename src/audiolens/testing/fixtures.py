"""Write tiny datasets in the official layouts into a (temporary) folder, for tests.

Every clip is a short sine tone whose frequency depends on its class
(:func:`class_frequency`), so a classifier can tell the classes apart. Each ``make_*``
function returns the dataset root it filled; ``ext`` chooses the audio container (``.wav``
or ``.flac``) independently of what the metadata says, to test finding audio by stem.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from audiolens.io import save_audio

#: The 50 ESC-50 categories in target order, and the targets that form ESC-10.
ESC50_CATEGORIES = (
    "dog", "rooster", "pig", "cow", "frog", "cat", "hen", "insects", "sheep", "crow",
    "rain", "sea_waves", "crackling_fire", "crickets", "chirping_birds", "water_drops", "wind",
    "pouring_water", "toilet_flush", "thunderstorm", "crying_baby", "sneezing", "clapping",
    "breathing", "coughing", "footsteps", "laughing", "brushing_teeth", "snoring",
    "drinking_sipping", "door_wood_knock", "mouse_click", "keyboard_typing", "door_wood_creaks",
    "can_opening", "washing_machine", "vacuum_cleaner", "clock_alarm", "clock_tick",
    "glass_breaking", "helicopter", "chainsaw", "siren", "car_horn", "engine", "train",
    "church_bells", "airplane", "fireworks", "hand_saw",
)  # fmt: skip
ESC10_TARGETS = (0, 1, 10, 11, 12, 20, 21, 38, 40, 41)

#: The 10 UrbanSound8K classes in classID order.
URBANSOUND8K_CLASSES = (
    "air_conditioner", "car_horn", "children_playing", "dog_bark", "drilling",
    "engine_idling", "gun_shot", "jackhammer", "siren", "street_music",
)  # fmt: skip


#: The SONYC-UST taxonomy (dcase-ust-taxonomy.yaml of the v2 release): coarse tags and their fine
#: tags, ``X`` marking the "uncertain" fine tag of a coarse tag.
SONYC_UST_TAXONOMY = {
    (1, "engine"): {"1": "small-sounding-engine", "2": "medium-sounding-engine", "3": "large-sounding-engine",
                    "X": "engine-of-uncertain-size"},
    (2, "machinery-impact"): {"1": "rock-drill", "2": "jackhammer", "3": "hoe-ram", "4": "pile-driver",
                              "X": "other-unknown-impact-machinery"},
    (3, "non-machinery-impact"): {"1": "non-machinery-impact"},
    (4, "powered-saw"): {"1": "chainsaw", "2": "small-medium-rotating-saw", "3": "large-rotating-saw",
                         "X": "other-unknown-powered-saw"},
    (5, "alert-signal"): {"1": "car-horn", "2": "car-alarm", "3": "siren", "4": "reverse-beeper",
                          "X": "other-unknown-alert-signal"},
    (6, "music"): {"1": "stationary-music", "2": "mobile-music", "3": "ice-cream-truck",
                   "X": "music-from-uncertain-source"},
    (7, "human-voice"): {"1": "person-or-small-group-talking", "2": "person-or-small-group-shouting",
                         "3": "large-crowd", "4": "amplified-speech", "X": "other-unknown-human-voice"},
    (8, "dog"): {"1": "dog-barking-whining"},
}  # fmt: skip


def class_frequency(target: int) -> float:
    """Tone frequency (Hz) used for class ``target``: 150 + 70 * target (below 4 kHz to 49)."""
    return 150.0 + 70.0 * target


def write_tone(
    path: str | os.PathLike,
    frequency: float,
    duration: float = 0.1,
    sample_rate: int = 16000,
    amplitude: float = 0.5,
) -> Path:
    """Write a mono sine tone (PCM 16, WAV or FLAC by extension) and return its path.

    Args:
        path: Output file; parent folders are created.
        frequency: In Hz.
        duration: In seconds.
        sample_rate: In Hz.
        amplitude: Peak value in (0, 1].
    """
    t = np.arange(round(duration * sample_rate)) / sample_rate
    return save_audio(path, amplitude * np.sin(2 * np.pi * frequency * t), sample_rate)


def tree_snapshot(root: str | os.PathLike) -> dict[str, tuple[int, int]]:
    """Map every file below ``root`` (relative posix path) to ``(size, mtime_ns)``.

    Compare two snapshots to check that code treated ``root`` as read-only.
    """
    root = Path(root)
    return {
        path.relative_to(root).as_posix(): (path.stat().st_size, path.stat().st_mtime_ns)
        for path in sorted(root.rglob("*"))
    }


def make_fsdd(
    root: str | os.PathLike,
    speakers: Sequence[str] = ("alice", "bob"),
    n_per_digit: int = 6,
    *,
    digits: Sequence[int] = tuple(range(10)),
    sample_rate: int = 8000,
    duration: float = 0.1,
    ext: str = ".wav",
) -> Path:
    """Write a Free Spoken Digit Dataset: ``root/recordings/{digit}_{speaker}_{index}{ext}``.

    Args:
        root: Dataset root to create.
        speakers: Speaker names (one fold each).
        n_per_digit: Utterances per digit and speaker, indices ``0..n_per_digit-1`` (0-4
            are the official test split).
        digits: Digits to write.
        sample_rate: In Hz.
        duration: Clip length in seconds.
        ext: ``".wav"`` or ``".flac"``.

    Returns:
        ``root`` as a :class:`Path`.
    """
    root = Path(root)
    for digit in digits:
        for speaker in speakers:
            for index in range(n_per_digit):
                path = root / "recordings" / f"{digit}_{speaker}_{index}{ext}"
                write_tone(path, class_frequency(digit), duration, sample_rate)
    return root


def make_esc50(
    root: str | os.PathLike,
    folds: Sequence[int] = (1, 2),
    n_classes: int = 12,
    clips_per_fold: int = 1,
    *,
    sample_rate: int = 16000,
    duration: float = 0.1,
    ext: str = ".wav",
) -> Path:
    """Write ESC-50: ``root/meta/esc50.csv`` (official columns) and ``root/audio/<stem>{ext}``.

    The CSV always says ``.wav`` like the official release; ``ext`` chooses the files.

    Args:
        root: Dataset root to create.
        folds: Folds to write.
        n_classes: The first ``n_classes`` ESC-50 categories (targets ``0..n_classes-1``);
            the default 12 includes four ESC-10 classes (targets 0, 1, 10, 11).
        clips_per_fold: Clips per class and fold.
        sample_rate: In Hz.
        duration: Clip length in seconds.
        ext: ``".wav"`` or ``".flac"``.

    Returns:
        ``root`` as a :class:`Path`.
    """
    root = Path(root)
    rows = []
    for fold in folds:
        for target in range(n_classes):
            for clip in range(clips_per_fold):
                src_file = 100000 + 100 * target + 10 * fold + clip
                take = "ABCDEFGH"[clip % 8]
                stem = f"{fold}-{src_file}-{take}-{target}"
                path = root / "audio" / f"{stem}{ext}"
                write_tone(path, class_frequency(target), duration, sample_rate)
                category, esc10 = ESC50_CATEGORIES[target], target in ESC10_TARGETS
                rows.append([f"{stem}.wav", fold, target, category, esc10, src_file, take])
    header = ["filename", "fold", "target", "category", "esc10", "src_file", "take"]
    _write_csv(root / "meta" / "esc50.csv", header, rows)
    return root


def make_urbansound8k(
    root: str | os.PathLike,
    folds: Sequence[int] = (1, 2),
    clips_per_fold: int = 1,
    *,
    sample_rate: int = 16000,
    duration: float = 0.1,
    ext: str = ".wav",
) -> Path:
    """Write UrbanSound8K: ``root/metadata/UrbanSound8K.csv`` and ``root/audio/fold{K}/``.

    Args:
        root: Dataset root to create.
        folds: Folds to write (all 10 classes in each).
        clips_per_fold: Clips per class and fold.
        sample_rate: In Hz.
        duration: Clip length in seconds.
        ext: ``".wav"`` or ``".flac"`` (the CSV always says ``.wav``).

    Returns:
        ``root`` as a :class:`Path`.
    """
    root = Path(root)
    rows = []
    for fold in folds:
        for class_id, name in enumerate(URBANSOUND8K_CLASSES):
            for clip in range(clips_per_fold):
                fs_id = 10000 + 100 * fold + 10 * class_id + clip
                stem = f"{fs_id}-{class_id}-0-{clip}"
                path = root / "audio" / f"fold{fold}" / f"{stem}{ext}"
                write_tone(path, class_frequency(class_id), duration, sample_rate)
                rows.append([f"{stem}.wav", fs_id, 0.0, duration, 1, fold, class_id, name])
    header = ["slice_file_name", "fsID", "start", "end", "salience", "fold", "classID", "class"]
    _write_csv(root / "metadata" / "UrbanSound8K.csv", header, rows)
    return root


def make_speech_commands(
    root: str | os.PathLike,
    labels: Sequence[str] = ("yes", "no", "up"),
    n_per_label: int = 5,
    *,
    lists: bool = True,
    background: bool = True,
    sample_rate: int = 16000,
    duration: float = 0.1,
    ext: str = ".wav",
) -> Path:
    """Write Speech Commands: ``root/<label>/<hash>_nohash_<n>{ext}`` plus split lists.

    Args:
        root: Dataset root to create.
        labels: Word folders.
        n_per_label: Files per word; with ``lists``, file 0 of each word is in
            ``validation_list.txt``, file 1 in ``testing_list.txt``, the rest are train.
        lists: Write ``validation_list.txt`` and ``testing_list.txt`` (paths with ``.wav``).
        background: Write ``_background_noise_/`` with one noise file and a README.
        sample_rate: In Hz.
        duration: Clip length in seconds.
        ext: ``".wav"`` or ``".flac"``.

    Returns:
        ``root`` as a :class:`Path`.
    """
    root = Path(root)
    validation, testing = [], []
    for target, label in enumerate(labels):
        for n in range(n_per_label):
            stem = f"{0xA0000000 + 7919 * n:08x}_nohash_{n % 3}"
            path = root / label / f"{stem}{ext}"
            write_tone(path, class_frequency(target), duration, sample_rate)
            if n == 0:
                validation.append(f"{label}/{stem}.wav")
            elif n == 1:
                testing.append(f"{label}/{stem}.wav")
    if lists:
        (root / "validation_list.txt").write_text("".join(f"{p}\n" for p in validation))
        (root / "testing_list.txt").write_text("".join(f"{p}\n" for p in testing))
    if background:
        noise = np.random.default_rng(0).uniform(-0.3, 0.3, round(2 * duration * sample_rate))
        save_audio(root / "_background_noise_" / "white_noise.wav", noise, sample_rate)
        (root / "_background_noise_" / "README.md").write_text("background noise\n")
    return root


def make_folder(
    root: str | os.PathLike,
    classes: Sequence[str] = ("bird", "cat", "dog"),
    n_per_class: int = 4,
    *,
    manifest: str | None = None,
    sample_rate: int = 16000,
    duration: float = 0.1,
    ext: str = ".wav",
) -> Path:
    """Write a folder dataset: class subfolders, or flat files plus a CSV manifest.

    Args:
        root: Dataset root to create.
        classes: Class names.
        n_per_class: Files per class.
        manifest: If given, write the files to ``root/clips/`` and a manifest CSV of this
            name in ``root`` with columns ``path, label, fold, split`` (fold ``n % 2 + 1``,
            split ``"test"`` for the first file of each class, else ``"train"``); otherwise
            write ``root/<class>/<class>_<n>{ext}``.
        sample_rate: In Hz.
        duration: Clip length in seconds.
        ext: ``".wav"`` or ``".flac"``.

    Returns:
        ``root`` as a :class:`Path`.
    """
    root = Path(root)
    rows = []
    for target, name in enumerate(classes):
        for n in range(n_per_class):
            folder = root / "clips" if manifest else root / name
            path = folder / f"{name}_{n}{ext}"
            write_tone(path, class_frequency(target), duration, sample_rate)
            split = "test" if n == 0 else "train"
            rows.append([path.relative_to(root).as_posix(), name, n % 2 + 1, split])
    if manifest:
        _write_csv(root / manifest, ["path", "label", "fold", "split"], rows)
    return root


def make_multilabel_folder(
    root: str | os.PathLike,
    classes: Sequence[str] = ("bird", "car", "dog"),
    n_per_combination: int = 4,
    *,
    sample_rate: int = 16000,
    duration: float = 0.2,
) -> Path:
    """Write a multi-label folder dataset: each clip sums the tones of its classes.

    Every non-empty combination of one or two classes gets ``n_per_combination`` clips in
    ``root/clips/``; ``root/labels.csv`` has columns ``path, labels, fold`` (``labels`` the class
    names joined by ``;``, fold ``n % 2 + 1``). Load it with
    ``create_dataset("folder", root, manifest="labels.csv")``.

    Returns:
        ``root`` as a :class:`Path`.
    """
    root = Path(root)
    combos = [(c,) for c in range(len(classes))]
    combos += [(a, b) for a in range(len(classes)) for b in range(a + 1, len(classes))]
    t = np.arange(round(duration * sample_rate)) / sample_rate
    rows = []
    for combo in combos:
        for n in range(n_per_combination):
            signal = sum(np.sin(2 * np.pi * class_frequency(c) * t + n) for c in combo) * (0.4 / len(combo))
            name = "_".join(classes[c] for c in combo)
            path = save_audio(root / "clips" / f"{name}_{n}.wav", signal, sample_rate)
            rows.append([path.relative_to(root).as_posix(), ";".join(classes[c] for c in combo), n % 2 + 1])
    _write_csv(root / "labels.csv", ["path", "labels", "fold"], rows)
    return root


def make_sonyc_ust(
    root: str | os.PathLike,
    *,
    n_train: int = 6,
    n_validate: int = 3,
    n_test: int = 3,
    sample_rate: int = 16000,
    duration: float = 0.2,
) -> Path:
    """Write SONYC-UST in the v2 layout: ``root/annotations.csv`` and ``root/audio/<audio_filename>``.

    The CSV has the release's columns (``split, sensor_id, audio_filename, annotator_id, borough,
    block, latitude, longitude, year, week, day, hour``, then every fine tag's ``_presence`` and
    ``_proximity`` and every coarse tag's ``_presence``). File ``k`` of a split carries the coarse
    tags ``{k % 8, (k + 3) % 8}`` (with their first fine tag); its annotations:

    - train: citizens 101 and 102 (101 marks the first tag, 102 the second) and a SONYC-team
      row (annotator -1) that marks tag 8 (``dog``), which the baseline ignores for training;
      for file 5, 102's row holds -1 in the first tag's column (the baseline sums raw values:
      that tag is absent, file 5 carries only its second tag);
    - validate / test: the verified row (annotator 0) with both tags and a citizen row (103)
      that marks ``dog`` as well, which the baseline ignores;
    - one more validate file ``no_verified.wav`` has citizen rows only (left out by the loader).

    Every clip is the sum of the tones of its coarse tags.

    Returns:
        ``root`` as a :class:`Path`.
    """
    root = Path(root)
    fine = [(c, f, name) for (c, _), tags in SONYC_UST_TAXONOMY.items() for f, name in tags.items()]
    coarse = list(SONYC_UST_TAXONOMY)
    header = ["split", "sensor_id", "audio_filename", "annotator_id", "borough", "block", "latitude", "longitude",
              "year", "week", "day", "hour"]  # fmt: skip
    for c, f, name in fine:
        header += [f"{c}-{f}_{name}_presence", f"{c}-{f}_{name}_proximity"]
    header += [f"{c}_{name}_presence" for c, name in coarse]
    t = np.arange(round(duration * sample_rate)) / sample_rate

    def row(split: str, filename: str, annotator: int, present: set[int]) -> list[object]:
        cells: list[object] = [split, 7, filename, annotator, 1, 101, 40.72, -73.99, 2019, 10, 2, 14]
        for c, f, _ in fine:
            on = (c - 1) in present and f == "1"
            cells += [int(on), "near" if on else -1]
        return cells + [int(k in present) for k in range(len(coarse))]

    rows = []
    for split, count in (("train", n_train), ("validate", n_validate), ("test", n_test)):
        for k in range(count):
            filename = f"{split[:2]}_{k:06d}.wav"
            first, second = k % 8, (k + 3) % 8
            signal = sum(np.sin(2 * np.pi * class_frequency(c) * t) for c in (first, second)) * 0.2
            save_audio(root / "audio" / filename, signal, sample_rate)
            if split == "train":
                second_row = row(split, filename, 102, {second})
                if k == 5:  # a -1 cell: the baseline sums the raw values, so tag `first` is absent
                    second_row[-len(coarse) + first] = -1
                rows += [row(split, filename, 101, {first}), second_row]
                rows.append(row(split, filename, -1, {7}))
            else:
                rows += [row(split, filename, 0, {first, second}), row(split, filename, 103, {7})]
    save_audio(root / "audio" / "no_verified.wav", np.sin(2 * np.pi * 440 * t) * 0.2, sample_rate)
    rows += [row("validate", "no_verified.wav", 104, {0}), row("validate", "no_verified.wav", 105, {1})]
    _write_csv(root / "annotations.csv", header, rows)
    return root


def _write_csv(path: Path, header: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
