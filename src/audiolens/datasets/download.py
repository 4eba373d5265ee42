"""Download the official archives of the public datasets and unpack them in their layouts.

:func:`download_dataset` fetches the archive with :mod:`urllib`, verifies its checksum where a
stable one is published, unpacks it safely and moves the dataset's own top folder into
``root``, so that ``create_dataset(name, root)`` works afterwards. ``synthetic`` is generated
on the fly and ``folder`` is your own data: neither has anything to download.

Checksums: UrbanSound8K (md5, as published on its Zenodo record) and Speech Commands v0.02
(sha256, the value torchaudio checks) are verified. FSDD and ESC-50 come from GitHub
"archive of a branch" zips, which GitHub regenerates and whose bytes are not guaranteed to
stay the same, so no archive digest can be pinned. Their *content* is verified instead,
against the invariants of the published datasets (a stable check that needs no digest):

- ESC-50: ``meta/esc50.csv`` lists exactly 2000 clips, 400 per fold 1-5 and 40 per each of the
  50 classes, and every listed file is in ``audio/``;
- FSDD: ``recordings/`` holds, for every speaker, the complete grid of 10 digits x 50
  recordings (``{digit}_{speaker}_{0..49}.wav``), for at least 4 speakers (releases since 2017
  have 4 to 6).
"""

from __future__ import annotations

import csv
import hashlib
import logging
import os
import re
import shutil
import tarfile
import tempfile
import urllib.error
import urllib.request
import zipfile
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from audiolens._internal.errors import DataError, ParameterError, unknown_choice

logger = logging.getLogger(__name__)

_CHUNK = 1 << 20


@dataclass(frozen=True)
class DatasetSource:
    """Where a dataset's official archive lives and how it unpacks.

    Attributes:
        url: Official download address.
        filename: Name the archive is saved under (inside ``root`` while downloading).
        checksum: Expected hex digest, or ``None`` when no stable digest exists.
        algorithm: :mod:`hashlib` name of the digest (``"md5"``, ``"sha256"``).
        top_folder: Folder inside the archive that holds the dataset, or ``None`` when the
            archive's top level is the dataset itself.
        marker: Path (relative to ``root``) that exists once the dataset is in place.
        verify: Content check of the unpacked dataset folder (raises :class:`DataError`), for
            sources without a stable checksum.
    """

    url: str
    filename: str
    checksum: str | None
    algorithm: str
    top_folder: str | None
    marker: str
    verify: Callable[[Path], None] | None = None


_FSDD_NAME = re.compile(r"^([0-9])_([A-Za-z]+)_([0-9]+)\.wav$")


def verify_fsdd(top: Path) -> None:
    """Check an unpacked FSDD release: every speaker has 10 digits x 50 recordings, >= 4 speakers.

    Raises:
        DataError: Naming the speakers with missing recordings (a few of them) or the count.
    """
    grid: dict[str, set[tuple[int, int]]] = {}
    for path in (top / "recordings").glob("*.wav"):
        match = _FSDD_NAME.match(path.name)
        if match:
            digit, speaker, index = match.groups()
            grid.setdefault(speaker, set()).add((int(digit), int(index)))
    expected = {(d, i) for d in range(10) for i in range(50)}
    incomplete = {s: sorted(expected - have)[:3] for s, have in grid.items() if not expected <= have}
    if incomplete:
        detail = "; ".join(
            f"{s}: missing e.g. {', '.join(f'{d}_{s}_{i}.wav' for d, i in m)}" for s, m in incomplete.items()
        )
        raise DataError(f"FSDD download is incomplete ({detail}); download it again with --force")
    if len(grid) < 4:
        raise DataError(
            f"FSDD download holds {len(grid)} speaker(s) ({', '.join(sorted(grid)) or 'none'}); every release has "
            "at least 4: download it again with --force"
        )


def verify_esc50(top: Path) -> None:
    """Check an unpacked ESC-50 release: 2000 clips in the CSV, 400 per fold, 40 per class, all present.

    Raises:
        DataError: Naming what is off (row count, fold/class balance, missing files).
    """
    try:
        with open(top / "meta" / "esc50.csv", newline="") as handle:
            rows = list(csv.DictReader(handle))
    except (OSError, csv.Error) as exc:
        raise DataError(f"ESC-50 download: cannot read meta/esc50.csv ({exc})") from exc
    problems = []
    if len(rows) != 2000:
        problems.append(f"meta/esc50.csv lists {len(rows)} clips, not 2000")
    folds = Counter(r.get("fold") for r in rows)
    if sorted(folds.items()) != [(str(f), 400) for f in range(1, 6)]:
        problems.append(f"clips per fold {dict(sorted(folds.items()))} are not 400 in each of folds 1-5")
    classes = Counter(r.get("target") for r in rows)
    if len(classes) != 50 or set(classes.values()) != {40}:
        problems.append(f"{len(classes)} classes, not 50 classes of 40 clips")
    missing = [r["filename"] for r in rows if r.get("filename") and not (top / "audio" / r["filename"]).is_file()]
    if missing:
        problems.append(f"{len(missing)} listed file(s) missing from audio/, e.g. {', '.join(missing[:3])}")
    if problems:
        raise DataError(
            f"ESC-50 download does not match the release: {'; '.join(problems)}; download it again with --force"
        )


#: Official sources of the downloadable datasets.
SOURCES: dict[str, DatasetSource] = {
    "fsdd": DatasetSource(
        url="https://github.com/Jakobovski/free-spoken-digit-dataset/archive/refs/heads/master.zip",
        filename="free-spoken-digit-dataset-master.zip",
        checksum=None,  # GitHub branch archive: bytes not stable; the content is verified instead
        algorithm="sha256",
        top_folder="free-spoken-digit-dataset-master",
        marker="recordings",
        verify=verify_fsdd,
    ),
    "esc50": DatasetSource(
        url="https://github.com/karolpiczak/ESC-50/archive/master.zip",
        filename="ESC-50-master.zip",
        checksum=None,  # GitHub branch archive: bytes not stable; the content is verified instead
        algorithm="sha256",
        top_folder="ESC-50-master",
        marker="meta/esc50.csv",
        verify=verify_esc50,
    ),
    "urbansound8k": DatasetSource(
        url="https://zenodo.org/records/1203745/files/UrbanSound8K.tar.gz?download=1",
        filename="UrbanSound8K.tar.gz",
        checksum="9aa69802bbf37fb986f71ec1483a196e",  # md5 listed on Zenodo record 1203745
        algorithm="md5",
        top_folder="UrbanSound8K",
        marker="metadata/UrbanSound8K.csv",
    ),
    "speech_commands": DatasetSource(
        url="http://download.tensorflow.org/data/speech_commands_v0.02.tar.gz",
        filename="speech_commands_v0.02.tar.gz",
        checksum="af14739ee7dc311471de98f5f9d2c9191b18aedfe957f4a6ff791c709868ff58",
        algorithm="sha256",
        top_folder=None,
        marker="testing_list.txt",
    ),
}

#: Registry names that need no download.
NOTHING_TO_DOWNLOAD = {
    "synthetic": "synthetic is generated on the fly and needs no download",
    "folder": "folder reads your own audio files; there is nothing to download",
}


def download_dataset(name: str, root: str | os.PathLike, *, force: bool = False) -> Path | None:
    """Download and unpack dataset ``name`` so that ``root`` is its top folder.

    Args:
        name: ``"fsdd"``, ``"esc50"``, ``"urbansound8k"`` or ``"speech_commands"``
            (``"synthetic"`` needs no download: nothing happens and ``None`` is returned).
        root: Folder to create/fill (e.g. ``data/esc50``); afterwards
            ``create_dataset(name, root)`` reads it.
        force: Download and unpack again even if ``root`` already holds the dataset.

    Returns:
        ``root`` as a :class:`Path` (``None`` for ``synthetic``).

    Raises:
        ParameterError: Unknown ``name``, or ``"folder"`` (your own data).
        DataError: The server cannot be reached (offline?), the checksum does not match,
            or the archive is corrupt or does not hold the dataset.
    """
    if name == "synthetic":
        logger.info(NOTHING_TO_DOWNLOAD["synthetic"])
        return None
    if name == "folder":
        raise ParameterError(NOTHING_TO_DOWNLOAD["folder"])
    if name not in SOURCES:
        raise unknown_choice("dataset", name, [*SOURCES, "synthetic"])
    source = SOURCES[name]
    root = Path(root).expanduser()
    if (root / source.marker).exists() and not force:
        logger.info("%s is already in %s", name, root)
        return root
    root.mkdir(parents=True, exist_ok=True)
    archive = root / source.filename
    _fetch(source, archive)
    try:
        _unpack(source, archive, root, name)
    finally:
        archive.unlink(missing_ok=True)
    return root


def _fetch(source: DatasetSource, archive: Path) -> None:
    """Download ``source.url`` to ``archive`` (via a ``.part`` file), checking the digest."""
    part = archive.with_name(archive.name + ".part")
    digest = hashlib.new(source.algorithm)
    logger.info("downloading %s", source.url)
    try:
        request = urllib.request.Request(source.url, headers={"User-Agent": "audiolens"})
        with urllib.request.urlopen(request, timeout=60) as response, part.open("wb") as out:
            while chunk := response.read(_CHUNK):
                digest.update(chunk)
                out.write(chunk)
    except (urllib.error.URLError, OSError) as exc:
        part.unlink(missing_ok=True)
        raise DataError(
            f"could not reach {source.url}: offline? download it by hand and pass --data-root ({exc})"
        ) from exc
    if source.checksum is not None and digest.hexdigest() != source.checksum.lower():
        part.unlink(missing_ok=True)
        raise DataError(
            f"checksum mismatch for {source.url}: {source.algorithm} is {digest.hexdigest()}, "
            f"expected {source.checksum}; the download is corrupt or the file changed upstream"
        )
    os.replace(part, archive)


def _unpack(source: DatasetSource, archive: Path, root: Path, name: str) -> None:
    """Unpack ``archive`` into a temporary folder in ``root``, then move the dataset up."""
    staging = Path(tempfile.mkdtemp(prefix=".unpack-", dir=root))
    try:
        _extract(archive, staging)
        top = staging / source.top_folder if source.top_folder else staging
        if not (top / source.marker).exists():
            raise DataError(
                f"{name}: the archive from {source.url} does not hold {source.top_folder or '.'}/"
                f"{source.marker}; the download is incomplete or the layout changed upstream"
            )
        if source.verify is not None:
            source.verify(top)
        for entry in sorted(top.iterdir()):
            target = root / entry.name
            if target.is_dir() and not target.is_symlink():
                shutil.rmtree(target)
            elif target.exists() or target.is_symlink():
                target.unlink()
            shutil.move(str(entry), str(target))
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _extract(archive: Path, dest: Path) -> None:
    """Extract a zip or tar archive into ``dest``, refusing members that escape it."""
    dest_resolved = dest.resolve()

    def check(member_name: str) -> None:
        target = (dest / member_name).resolve()
        if target != dest_resolved and dest_resolved not in target.parents:
            raise DataError(f"refusing to unpack {archive}: member {member_name!r} leaves the folder")

    try:
        if zipfile.is_zipfile(archive):
            with zipfile.ZipFile(archive) as handle:
                for member in handle.namelist():
                    check(member)
                handle.extractall(dest)
        elif tarfile.is_tarfile(archive):
            with tarfile.open(archive) as handle:
                members = handle.getmembers()
                for member in members:
                    check(member.name)
                    if member.issym() or member.islnk():
                        raise DataError(f"refusing to unpack {archive}: member {member.name!r} is a link")
                if hasattr(tarfile, "data_filter"):
                    handle.extractall(dest, members=members, filter="data")
                else:  # Python < 3.11.4: members were checked above
                    handle.extractall(dest, members=members)
        else:
            raise DataError(f"{archive} is neither a zip nor a tar archive (corrupt download?)")
    except (zipfile.BadZipFile, tarfile.TarError, EOFError, OSError) as exc:
        raise DataError(f"cannot unpack {archive}: {exc} (corrupt download?)") from exc
