import os
import shutil
import sys
from pathlib import Path

import pytest

from audiolens._internal.errors import DataError, ParameterError
from audiolens.datasets import list_planetoid, load_ogbn_arxiv, load_planetoid
from audiolens.datasets import planetoid as planetoid_module
from audiolens.datasets.planetoid import planetoid_raw_files


def _listing(root: Path) -> list[tuple[str, int, int]]:
    return sorted((str(p.relative_to(root)), p.stat().st_size, p.stat().st_mtime_ns) for p in root.rglob("*"))


def _fake_raw(root: Path, name: str = "Cora", content: bytes = b"not a pickle") -> Path:
    raw = root / name / "raw"
    raw.mkdir(parents=True)
    for fname in planetoid_raw_files(name):
        (raw / fname).write_bytes(content)
    return raw


def test_list_planetoid():
    assert list_planetoid() == ["CiteSeer", "Cora"]


def test_raw_file_names():
    assert planetoid_raw_files("CORA") == [
        "ind.cora.x",
        "ind.cora.tx",
        "ind.cora.allx",
        "ind.cora.y",
        "ind.cora.ty",
        "ind.cora.ally",
        "ind.cora.graph",
        "ind.cora.test.index",
    ]


@pytest.mark.parametrize("name", ["PubMed", "cora2", "", 3, None])
def test_unknown_name(name, tmp_path):
    with pytest.raises(ParameterError, match=r"unknown Planetoid dataset .*valid choices: CiteSeer, Cora"):
        load_planetoid(name, tmp_path)


def test_missing_raw_files(tmp_path):
    raw = _fake_raw(tmp_path)
    (raw / "ind.cora.graph").unlink()
    (raw / "ind.cora.tx").unlink()
    before = _listing(tmp_path)
    with pytest.raises(DataError) as info:
        load_planetoid("cora", tmp_path)
    msg = str(info.value)
    assert "missing raw file(s) ind.cora.tx, ind.cora.graph" in msg
    assert str(raw) in msg
    assert "expected the 8 files ind.cora.x, ind.cora.tx, ind.cora.allx" in msg and "ind.cora.test.index" in msg
    assert "network" in msg
    assert _listing(tmp_path) == before


def test_missing_folder_and_root_hint(tmp_path):
    with pytest.raises(DataError, match="missing raw file.*CiteSeer/raw"):
        load_planetoid("citeseer", tmp_path)
    # root pointing at the Cora folder itself instead of the folder holding Cora/
    _fake_raw(tmp_path)
    with pytest.raises(DataError, match=r"root must be the folder that holds Cora/raw/"):
        load_planetoid("Cora", tmp_path / "Cora")


def test_default_root_needs_audiolens_data(monkeypatch):
    monkeypatch.delenv("AUDIOLENS_DATA", raising=False)
    with pytest.raises(DataError, match="AUDIOLENS_DATA is not set"):
        load_planetoid("Cora")


def test_corrupt_raw_files_give_data_error(tmp_path):
    _fake_raw(tmp_path / "root")
    with pytest.raises(DataError, match=r"could not read the raw files of .*Cora/raw.*delete"):
        load_planetoid("Cora", tmp_path / "root")


def test_copy_raw_is_idempotent_and_repairs(tmp_path, monkeypatch):
    src = _fake_raw(tmp_path / "src", content=b"0123456789")
    dst = tmp_path / "dst"
    files = planetoid_raw_files("Cora")
    planetoid_module._copy_raw(src, dst, files)
    assert sorted(p.name for p in dst.iterdir()) == sorted(files)

    def no_copy(*args, **kwargs):
        raise AssertionError("copied again")

    monkeypatch.setattr(shutil, "copyfile", no_copy)
    planetoid_module._copy_raw(src, dst, files)  # complete copy: nothing to do
    monkeypatch.undo()
    (dst / "ind.cora.x").write_bytes(b"0123")  # truncated by an interrupted copy
    planetoid_module._copy_raw(src, dst, files)
    assert (dst / "ind.cora.x").read_bytes() == b"0123456789"
    assert not list(dst.glob(".*.tmp"))


def test_real_cora(planetoid_root, monkeypatch):
    before = _listing(planetoid_root)
    data = load_planetoid("cora")  # default root: $AUDIOLENS_DATA/planetoid
    assert data.num_nodes == 2708
    assert data.x.shape == (2708, 1433) and data.x.is_floating_point()
    assert data.edge_index.shape == (2, 10556)
    assert int(data.y.max()) + 1 == 7
    assert (int(data.train_mask.sum()), int(data.val_mask.sum()), int(data.test_mask.sum())) == (140, 500, 1000)
    assert not (data.train_mask & data.val_mask).any() and not (data.val_mask & data.test_mask).any()
    assert _listing(planetoid_root) == before  # root untouched: nothing processed beside raw/

    cache = Path(os.environ["AUDIOLENS_CACHE"]) / "planetoid" / "Cora"
    (processed,) = cache.glob("*/Cora/processed/data.pt")
    mtime = processed.stat().st_mtime_ns

    def no_copy(*args, **kwargs):
        raise AssertionError("raw files copied again")

    monkeypatch.setattr(shutil, "copyfile", no_copy)
    again = load_planetoid("Cora", planetoid_root)  # explicit root, same files: same cache
    assert processed.stat().st_mtime_ns == mtime  # not processed again
    assert len(list(cache.iterdir())) == 1
    assert again.x.shape == data.x.shape and bool((again.y == data.y).all())
    assert _listing(planetoid_root) == before


def test_real_citeseer(planetoid_root):
    before = _listing(planetoid_root)
    data = load_planetoid("CiteSeer", planetoid_root)
    assert data.x.shape == (3327, 3703)
    assert int(data.y.max()) + 1 == 6
    assert (int(data.train_mask.sum()), int(data.val_mask.sum()), int(data.test_mask.sum())) == (120, 500, 1000)
    assert _listing(planetoid_root) == before


def test_ogbn_arxiv_without_ogb(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "ogb", None)
    monkeypatch.setitem(sys.modules, "ogb.nodeproppred", None)
    with pytest.raises(DataError, match=r"ogbn-arxiv needs the `ogb` package and network access to download"):
        load_ogbn_arxiv(tmp_path)


def test_ogbn_arxiv_absent_data(tmp_path):
    pytest.importorskip("ogb")
    with pytest.raises(DataError, match=r"ogbn-arxiv needs the `ogb` package and network access.*download=True"):
        load_ogbn_arxiv(tmp_path)
