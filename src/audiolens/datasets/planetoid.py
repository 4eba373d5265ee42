"""Citation graphs for node classification: Planetoid Cora and CiteSeer, and ogbn-arxiv.

These are graph data sets (one :class:`torch_geometric.data.Data` holding the whole graph),
not audio data sets, so they are not part of :func:`audiolens.datasets.create_dataset`.

:func:`load_planetoid` reads the raw Planetoid files (kimiyoung/planetoid) from a read-only
root and lets PyTorch Geometric's :class:`~torch_geometric.datasets.Planetoid` process them
in the audiolens cache, never beside the raw files and never over the network.
:func:`load_ogbn_arxiv` goes through the optional ``ogb`` package.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

from audiolens._internal.errors import DataError, unknown_choice
from audiolens._internal.paths import cache_dir, data_root

if TYPE_CHECKING:
    from torch_geometric.data import Data

__all__ = ["PLANETOID_RAW_SUFFIXES", "list_planetoid", "load_ogbn_arxiv", "load_planetoid", "planetoid_raw_files"]

#: The data sets :func:`load_planetoid` knows, lower-case name -> canonical name.
_PLANETOID = {"cora": "Cora", "citeseer": "CiteSeer"}

#: Suffixes of the eight raw files ``ind.<name>.<suffix>`` of a Planetoid data set.
PLANETOID_RAW_SUFFIXES = ("x", "tx", "allx", "y", "ty", "ally", "graph", "test.index")

_PLANETOID_URL = "https://github.com/kimiyoung/planetoid/tree/master/data"


def list_planetoid() -> list[str]:
    """Return the Planetoid data sets :func:`load_planetoid` accepts, sorted.

    Returns:
        ``["CiteSeer", "Cora"]``.
    """
    return sorted(_PLANETOID.values())


def _canonical(name: object) -> str:
    if not isinstance(name, str) or name.lower() not in _PLANETOID:
        raise unknown_choice("Planetoid dataset", name, list_planetoid())
    return _PLANETOID[name.lower()]


def planetoid_raw_files(name: str) -> list[str]:
    """Return the names of the eight raw files of a Planetoid data set.

    Args:
        name: ``"Cora"`` or ``"CiteSeer"`` (case-insensitive).

    Returns:
        ``["ind.cora.x", "ind.cora.tx", ..., "ind.cora.test.index"]`` for Cora.

    Raises:
        ParameterError: Unknown ``name`` (the message lists the valid ones).
    """
    stem = _canonical(name).lower()
    return [f"ind.{stem}.{suffix}" for suffix in PLANETOID_RAW_SUFFIXES]


def _copy_raw(src: Path, dst: Path, files: list[str]) -> None:
    """Copy ``files`` from ``src`` to ``dst`` unless an identical-size copy is already there.

    Each file is written under a temporary name and renamed, so an interrupted copy never
    leaves a truncated raw file that would look complete.
    """
    dst.mkdir(parents=True, exist_ok=True)
    for fname in files:
        target = dst / fname
        if target.is_file() and target.stat().st_size == (src / fname).stat().st_size:
            continue
        tmp = dst / f".{fname}.{os.getpid()}.tmp"
        try:
            shutil.copyfile(src / fname, tmp)
            os.replace(tmp, target)
        finally:
            tmp.unlink(missing_ok=True)


def load_planetoid(name: str, root: str | os.PathLike | None = None) -> Data:
    """Load Cora or CiteSeer with the public Planetoid split, without writing into ``root``.

    The raw files ``<root>/<Name>/raw/ind.<name>.*`` are copied once into
    ``cache_dir("planetoid", <Name>, <digest>)/<Name>/raw/`` (``<digest>`` hashes the raw files'
    names and sizes, so a different copy of the data gets its own cache), where
    :class:`torch_geometric.datasets.Planetoid` processes them (``processed/`` is written
    there). Later calls reuse the cache without copying or processing again. Nothing is
    downloaded.

    Args:
        name: ``"Cora"`` or ``"CiteSeer"`` (case-insensitive).
        root: Folder holding ``<Name>/raw/`` (read-only). ``None``: ``$AUDIOLENS_DATA/planetoid``.

    Returns:
        The whole graph as a :class:`torch_geometric.data.Data` with ``x`` (float node
        features), ``edge_index`` (undirected, both directions), ``y`` (class per node) and
        the public split's boolean ``train_mask``, ``val_mask``, ``test_mask`` (Cora: 2708
        nodes, 1433 features, 7 classes, 140/500/1000 nodes; CiteSeer: 3327 nodes, 3703
        features, 6 classes, 120/500/1000). Number of classes: ``int(data.y.max()) + 1``.

    Raises:
        ParameterError: Unknown ``name`` (the message lists the valid ones).
        DataError: ``root`` is ``None`` and ``AUDIOLENS_DATA`` is unset, a raw file is missing
            (the message names the folder and the eight expected files), or the files cannot
            be read.
    """
    canonical = _canonical(name)
    files = planetoid_raw_files(canonical)
    base = Path(root).expanduser() if root is not None else data_root() / "planetoid"
    raw = base / canonical / "raw"
    missing = [f for f in files if not (raw / f).is_file()]
    if missing:
        hint = ""
        if (base / "raw").is_dir():
            hint = f" (root must be the folder that holds {canonical}/raw/, e.g. {base.parent})"
        raise DataError(
            f"Planetoid {canonical}: missing raw file(s) {', '.join(missing)} in {raw}{hint}; "
            f"expected the 8 files {', '.join(files)}. audiolens does not download them (that "
            f"needs network access): fetch them from {_PLANETOID_URL} into {raw}"
        )
    digest = hashlib.sha256()
    for fname in files:
        digest.update(f"{fname}:{(raw / fname).stat().st_size}\n".encode())
    cache_root = cache_dir("planetoid", canonical, digest.hexdigest()[:16])
    _copy_raw(raw, cache_root / canonical / "raw", files)

    from torch_geometric.datasets import Planetoid

    try:
        dataset = Planetoid(str(cache_root), canonical, split="public")
    except Exception as err:  # corrupt raw files or processed cache: say where to look
        raise DataError(
            f"Planetoid {canonical}: could not read the raw files of {raw} (processed in {cache_root}): "
            f"{type(err).__name__}: {err}; check the raw files, or delete {cache_root} to process again"
        ) from err
    return dataset[0]


def load_ogbn_arxiv(root: str | os.PathLike | None = None, *, download: bool = False) -> Data:
    """Load ogbn-arxiv (OGB node property prediction) with its official time split.

    Needs the optional ``ogb`` package. ``root`` is where ``ogb`` keeps ``ogbn_arxiv/``
    (``ogb`` writes its processed files there, so it must be writable); the data are only
    downloaded when ``download=True`` (network access).

    Args:
        root: Folder holding (or to hold) ``ogbn_arxiv/``. ``None``: ``$AUDIOLENS_DATA/ogb``.
        download: Let ``ogb`` download the data when they are absent.

    Returns:
        The graph as a :class:`torch_geometric.data.Data` (169,343 nodes, 128 features,
        40 classes, directed citation edges) with ``y`` of shape ``(num_nodes,)`` and boolean
        ``train_mask``, ``val_mask``, ``test_mask`` from ``get_idx_split()`` (papers up to
        2017 / 2018 / since 2019).

    Raises:
        DataError: ``ogb`` is not installed, or the data are absent and ``download`` is false.
    """
    try:
        from ogb.nodeproppred import PygNodePropPredDataset
    except ImportError as err:
        raise DataError(
            "ogbn-arxiv needs the `ogb` package and network access to download the data "
            "(pip install ogb, then load_ogbn_arxiv(root, download=True) once, online)"
        ) from err
    base = Path(root).expanduser() if root is not None else data_root() / "ogb"
    folder = base / "ogbn_arxiv"
    if not download and not (folder / "raw").is_dir() and not (folder / "processed").is_dir():
        raise DataError(
            f"ogbn-arxiv needs the `ogb` package and network access to download the data: "
            f"{folder} does not exist; call load_ogbn_arxiv({str(base)!r}, download=True) once, online"
        )
    import torch

    dataset = PygNodePropPredDataset(name="ogbn-arxiv", root=str(base))
    data = dataset[0]
    split = dataset.get_idx_split()
    data.y = data.y.view(-1)
    for key, part in (("train_mask", "train"), ("val_mask", "valid"), ("test_mask", "test")):
        mask = torch.zeros(data.num_nodes, dtype=torch.bool)
        mask[split[part]] = True
        data[key] = mask
    return data
