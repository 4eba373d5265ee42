"""Data and cache locations, and atomic file writes.

``AUDIOLENS_DATA`` names the folder that holds the real datasets (read-only);
``AUDIOLENS_CACHE`` (default ``~/.cache/audiolens``) is where audiolens writes caches.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from audiolens._internal.errors import DataError, ParameterError


def data_root() -> Path:
    """Return ``$AUDIOLENS_DATA``, the read-only folder holding the datasets.

    Raises:
        DataError: If the variable is unset or does not name a folder.
    """
    value = os.environ.get("AUDIOLENS_DATA")
    if not value:
        raise DataError(
            "AUDIOLENS_DATA is not set; point it at the folder holding the datasets "
            "(e.g. export AUDIOLENS_DATA=../shared/data) or give the dataset root explicitly"
        )
    path = Path(value).expanduser()
    if not path.is_dir():
        raise DataError(f"AUDIOLENS_DATA={value!r} is not a folder")
    return path


def cache_dir(*parts: str) -> Path:
    """Return (and create) a folder under ``$AUDIOLENS_CACHE`` (default ``~/.cache/audiolens``).

    Args:
        *parts: Sub-folder names below the cache root.
    """
    root = Path(os.environ.get("AUDIOLENS_CACHE") or Path.home() / ".cache" / "audiolens")
    path = root.expanduser().joinpath(*parts)
    path.mkdir(parents=True, exist_ok=True)
    return path


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike) -> Iterator[BinaryIO]:
    """Open a unique temporary file beside ``path`` for binary writing; rename it to ``path`` on success.

    A reader never sees a half-written file, a killed or failing writer leaves the old file
    intact, and concurrent writers (e.g. DDP ranks) never share a temporary file.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike, *, overwrite: bool = False, marker: str | None = None) -> Iterator[Path]:
    """A temporary folder beside ``path`` that becomes ``path`` when the block succeeds.

    A failing or killed writer leaves no partial folder at ``path`` (and the old one, if any,
    intact until the new one is complete). With ``overwrite``, an existing ``path`` is replaced
    only if it is a folder holding ``marker`` (an earlier output of the same kind), so a
    mistyped path never deletes a run folder.

    Raises:
        ParameterError: ``path`` exists and ``overwrite`` is false, or it is not a folder this
            writer may replace (before anything is written).
    """
    path = Path(path)
    if path.exists() and (not path.is_dir() or (marker is not None and not (path / marker).is_file())):
        what = "a file" if not path.is_dir() else f"a folder without {marker} (not an earlier output of this command)"
        raise ParameterError(f"{path} is {what}; it will not be replaced, choose another folder")
    if path.exists() and not overwrite:
        raise ParameterError(f"{path} exists; pass --overwrite or choose another folder")
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    umask = os.umask(0)
    os.umask(umask)
    staging.chmod(0o777 & ~umask)  # mkdtemp makes it private; a folder gets the user's usual mode
    try:
        yield staging
        if path.exists():
            shutil.rmtree(path)
        staging.rename(path)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically; see :func:`atomic_open`."""
    with atomic_open(path) as handle:
        handle.write(data)
    return Path(path)


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Write UTF-8 ``text`` to ``path`` atomically; see :func:`atomic_write_bytes`."""
    return atomic_write_bytes(path, text.encode("utf-8"))
