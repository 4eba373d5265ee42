"""Download the official archives of the public datasets and unpack them in their layouts.

:func:`download_dataset` fetches the archive with :mod:`urllib`, verifies its checksum where a
stable one is published, unpacks it safely and moves the dataset's own top folder into
``root``, so that ``create_dataset(name, root)`` works afterwards. ``synthetic`` is generated
on the fly and ``folder`` is your own data: neither has anything to download.

Checksums: UrbanSound8K (md5, as published on its Zenodo record) and Speech Commands v0.02
(sha256, the value torchaudio checks) are verified. FSDD and ESC-50 come from GitHub
"archive of a branch" zips, which GitHub regenerates and whose bytes are not guaranteed to
stay the same; their checksum is ``None`` and only the archive's integrity (it unpacks and
holds the expected files) is checked.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import tarfile
import tempfile
import urllib.error
import urllib.request
import zipfile
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
    """

    url: str
    filename: str
    checksum: str | None
    algorithm: str
    top_folder: str | None
    marker: str


#: Official sources of the downloadable datasets.
SOURCES: dict[str, DatasetSource] = {
    "fsdd": DatasetSource(
        url="https://github.com/Jakobovski/free-spoken-digit-dataset/archive/refs/heads/master.zip",
        filename="free-spoken-digit-dataset-master.zip",
        checksum=None,  # GitHub branch archive: bytes not stable, no published digest
        algorithm="sha256",
        top_folder="free-spoken-digit-dataset-master",
        marker="recordings",
    ),
    "esc50": DatasetSource(
        url="https://github.com/karolpiczak/ESC-50/archive/master.zip",
        filename="ESC-50-master.zip",
        checksum=None,  # GitHub branch archive: bytes not stable, no published digest
        algorithm="sha256",
        top_folder="ESC-50-master",
        marker="meta/esc50.csv",
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
