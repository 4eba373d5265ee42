import pytest

from audiolens import DataError, ParameterError
from audiolens._internal import atomic_write_text, cache_dir, data_root
from audiolens._internal.errors import unknown_choice


def test_errors_are_value_errors():
    assert issubclass(ParameterError, ValueError) and issubclass(DataError, ValueError)
    err = unknown_choice("model", "nope", ["b", "a"])
    assert "nope" in str(err) and "a, b" in str(err)


def test_data_root_unset(monkeypatch):
    monkeypatch.delenv("AUDIOLENS_DATA", raising=False)
    with pytest.raises(DataError, match="AUDIOLENS_DATA"):
        data_root()


def test_data_root_not_a_folder(monkeypatch, tmp_path):
    monkeypatch.setenv("AUDIOLENS_DATA", str(tmp_path / "missing"))
    with pytest.raises(DataError, match="not a folder"):
        data_root()


def test_cache_dir_created_under_env(monkeypatch, tmp_path):
    monkeypatch.setenv("AUDIOLENS_CACHE", str(tmp_path / "c"))
    path = cache_dir("a", "b")
    assert path == tmp_path / "c" / "a" / "b" and path.is_dir()


def test_atomic_write_replaces_and_leaves_no_temp(tmp_path):
    target = tmp_path / "sub" / "x.json"
    atomic_write_text(target, "one")
    atomic_write_text(target, "two")
    assert target.read_text() == "two"
    assert [p.name for p in target.parent.iterdir()] == ["x.json"]
