"""Helpers shared by the dataset loaders: CSV tables, typed cells, class indexing, warnings."""

from __future__ import annotations

import csv
import os
import warnings
from collections.abc import Iterable, Sequence
from pathlib import Path

from audiolens._internal.checks import positive_int
from audiolens._internal.errors import DataError
from audiolens.datasets.base import Record
from audiolens.io import AUDIO_EXTENSIONS

#: How many file names an error or warning lists before it says "...".
_SHOW = 5


def check_sample_rate(sample_rate: int | None) -> int | None:
    """Return ``sample_rate`` if it is ``None`` or a positive int (Hz).

    Raises:
        ParameterError: For anything else (floats, bools, zero, negative numbers).
    """
    if sample_rate is None:
        return None
    return positive_int("sample_rate", sample_rate, "Hz")


def name_some(names: Sequence[str]) -> str:
    """Join the first few ``names`` with commas, adding ``...`` when there are more."""
    shown = ", ".join(str(n) for n in names[:_SHOW])
    return shown + (", ..." if len(names) > _SHOW else "")


def read_csv_table(path: Path, required: Sequence[str], what: str, layout: str) -> list[tuple[int, dict[str, str]]]:
    """Read a CSV file with a header row into ``(line_number, row)`` pairs.

    Column names and cells are stripped of surrounding whitespace; missing cells are ``""``.
    A UTF-8 byte-order mark is accepted.

    Args:
        path: The CSV file.
        required: Columns that must be present in the header.
        what: Dataset name used in messages (e.g. ``"esc50"``).
        layout: Description of the expected layout, appended to "not found" messages.

    Returns:
        One ``(line_number, row)`` per data row; ``line_number`` is 1-based in the file.

    Raises:
        DataError: Missing or unreadable file, empty file, missing required columns, or a
            header without any rows. The message names the file (and the columns).
    """
    if not path.is_file():
        raise DataError(f"{what}: metadata file {path} not found; {layout}")
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            header = reader.fieldnames
            if not header:
                raise DataError(f"{what}: CSV file {path} is empty (no header row); {layout}")
            columns = [(c or "").strip() for c in header]
            reader.fieldnames = columns
            missing = [c for c in required if c not in columns]
            if missing:
                raise DataError(
                    f"{what}: CSV file {path} lacks the required column(s) "
                    f"{', '.join(missing)}; it has {', '.join(c for c in columns if c)}; "
                    f"required: {', '.join(required)}"
                )
            rows = []
            for row in reader:
                clean = {
                    key: (value or "").strip() if isinstance(value, str) else ""
                    for key, value in row.items()
                    if key is not None
                }
                if any(clean.values()):
                    rows.append((reader.line_num, clean))
    except (UnicodeDecodeError, csv.Error) as exc:
        raise DataError(f"{what}: cannot parse CSV file {path}: {exc}") from exc
    if not rows:
        raise DataError(f"{what}: CSV file {path} has a header but no rows")
    return rows


def parse_int(value: str, column: str, path: Path, line: int, minimum: int | None = None) -> int:
    """Parse CSV cell ``value`` of ``column`` as an integer (``"3"`` or ``"3.0"``).

    Raises:
        DataError: Naming the file, line and column when the cell is not an integer or is
            below ``minimum``.
    """
    try:
        number = float(value)
        if not number.is_integer():
            raise ValueError(value)
        result = int(number)
    except (ValueError, OverflowError):
        raise DataError(f"{path}, line {line}: column {column!r} must be an integer, got {value!r}") from None
    if minimum is not None and result < minimum:
        raise DataError(f"{path}, line {line}: column {column!r} must be >= {minimum}, got {result}")
    return result


def parse_bool(value: str, column: str, path: Path, line: int) -> bool:
    """Parse CSV cell ``value`` as a boolean (``True``/``False``, ``1``/``0``, ``yes``/``no``).

    Raises:
        DataError: Naming the file, line and column for any other value.
    """
    lowered = value.strip().lower()
    if lowered in ("true", "1", "yes", "y", "t"):
        return True
    if lowered in ("false", "0", "no", "n", "f", ""):
        return False
    raise DataError(f"{path}, line {line}: column {column!r} must be True or False, got {value!r}")


def index_classes(pairs: Iterable[tuple[int, str]], source: Path) -> tuple[list[str], dict[int, int]]:
    """Order classes by their numeric id and map each id to a contiguous index.

    Args:
        pairs: ``(class_id, class_name)`` for every row (repeats allowed).
        source: The file the pairs come from (for messages).

    Returns:
        ``(class_names, remap)``: names sorted by ascending id, and ``remap[class_id]`` the
        position of that id in ``class_names`` (identity when ids are ``0..n-1``).

    Raises:
        DataError: When one id has two names or one name two ids.
    """
    names: dict[int, str] = {}
    ids: dict[str, int] = {}
    for class_id, name in pairs:
        if not name:
            raise DataError(f"{source}: class id {class_id} has an empty class name")
        if names.setdefault(class_id, name) != name:
            raise DataError(f"{source}: class id {class_id} is named both {names[class_id]!r} and {name!r}")
        if ids.setdefault(name, class_id) != class_id:
            raise DataError(f"{source}: class {name!r} has two ids, {ids[name]} and {class_id}")
    order = sorted(names)
    return [names[i] for i in order], {class_id: k for k, class_id in enumerate(order)}


def check_unique_ids(records: Sequence[Record], what: str, source: Path) -> None:
    """Raise a :class:`DataError` naming ``source`` if two records share an id."""
    seen: set[str] = set()
    duplicates = []
    for record in records:
        if record.id in seen:
            duplicates.append(record.id)
        seen.add(record.id)
    if duplicates:
        raise DataError(f"{what}: {source} lists the same file more than once: {name_some(duplicates)}")


def warn_missing(what: str, missing: Sequence[str], total: int, listing: Path, folder: Path) -> None:
    """Warn once that ``missing`` files listed in ``listing`` were not found under ``folder``."""
    if missing:
        warnings.warn(
            f"{what}: {len(missing)} of {total} files listed in {listing} were not found under "
            f"{folder} (any of {', '.join(AUDIO_EXTENSIONS)}) and are skipped (partial copy?): "
            f"{name_some(missing)}",
            stacklevel=3,
        )


def audio_files(folder: Path) -> list[Path]:
    """All audio files below ``folder`` (recursively, hidden entries skipped), sorted by path."""
    found = []
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for filename in filenames:
            if filename.startswith("."):
                continue
            if os.path.splitext(filename)[1].lower() in AUDIO_EXTENSIONS:
                found.append(Path(dirpath) / filename)
    return sorted(found)
