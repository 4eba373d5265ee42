"""What a run prints, and where dependency noise goes.

The console shows one progress line per stage and a closing summary (headline metrics, the run
folder, the report). Dependency noise stays out of it: while a run executes,
:func:`capture_dependency_output` sends the log records of Lightning, PyTorch and the other
libraries (tips, "GPU available", model summaries) and every third-party warning to the run's
log file ``RUN/logs/run.log``; warnings raised by audiolens itself are shown once on the
console too (they are about the user's data or settings). Lightning's progress bar stays.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

__all__ = ["Console", "capture_dependency_output"]

#: Loggers whose records go to the run's log file instead of the console.
_LIBRARY_LOGGERS = (
    "lightning",
    "lightning.pytorch",
    "lightning.fabric",
    "lightning_fabric",
    "pytorch_lightning",
    "torch",
    "torch_geometric",
    "py.warnings",
)
_PACKAGE_DIR = str(Path(__file__).resolve().parents[1])


class Console:
    """Progress lines and summaries of ``audiolens`` commands.

    Args:
        stream: Where progress lines go (default ``sys.stderr``; summaries go to ``sys.stdout``).
        quiet: Print nothing (e.g. sweep cells run in parallel processes).
        prefix: Text before every line (e.g. a sweep cell's name).
    """

    def __init__(self, stream: TextIO | None = None, *, quiet: bool = False, prefix: str = "") -> None:
        self.stream = stream
        self.quiet = quiet
        self.prefix = prefix

    def line(self, text: str, *, out: bool = False) -> None:
        """Print one line (stdout when ``out``, else the progress stream)."""
        if self.quiet:
            return
        stream = sys.stdout if out else (self.stream or sys.stderr)
        print(f"{self.prefix}{text}", file=stream, flush=True)

    def warning(self, text: str) -> None:
        """Print a warning line."""
        self.line(f"warning: {text}")

    @contextlib.contextmanager
    def stage(self, index: int, total: int, name: str, where: str) -> Iterator[dict]:
        """Print ``[i/n] name (where) ...`` then ``done in S s`` (or ``failed``); yields a dict for a result note."""
        self.line(f"[{index}/{total}] {name} ({where}) ...")
        note: dict = {}
        started = time.perf_counter()
        try:
            yield note
        except BaseException:
            self.line(f"[{index}/{total}] {name}: failed after {time.perf_counter() - started:.1f} s")
            raise
        detail = f" ({note['result']})" if note.get("result") else ""
        self.line(f"[{index}/{total}] {name}: done in {time.perf_counter() - started:.1f} s{detail}")


@contextlib.contextmanager
def capture_dependency_output(log_file: Path, console: Console) -> Iterator[None]:
    """Send library log records and third-party warnings to ``log_file`` for the duration (see the module doc)."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(log_file, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s: %(message)s"))
    saved = []
    for name in _LIBRARY_LOGGERS:
        logger = logging.getLogger(name)
        saved.append((logger, list(logger.handlers), logger.propagate, logger.level))
        for old in list(logger.handlers):
            logger.removeHandler(old)
        logger.addHandler(handler)
        logger.propagate = False
        if logger.level == logging.NOTSET or logger.level > logging.INFO:
            logger.setLevel(logging.INFO)
    warnings_logger = logging.getLogger("py.warnings")
    shown: set[str] = set()
    original_showwarning = warnings.showwarning

    def showwarning(message, category, filename, lineno, file=None, line=None) -> None:  # noqa: ANN001
        text = warnings.formatwarning(message, category, filename, lineno, line).strip()
        warnings_logger.warning(text)
        if str(filename).startswith(_PACKAGE_DIR) and str(message) not in shown:
            shown.add(str(message))
            console.warning(str(message))

    with warnings.catch_warnings():
        warnings.simplefilter("default")
        warnings.showwarning = showwarning
        try:
            yield
        finally:
            warnings.showwarning = original_showwarning
            for logger, handlers, propagate, level in saved:
                logger.removeHandler(handler)
                for old in handlers:
                    logger.addHandler(old)
                logger.propagate = propagate
                logger.setLevel(level)
            handler.close()
