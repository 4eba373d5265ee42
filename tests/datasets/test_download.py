import hashlib
import io
import tarfile
import urllib.error
import urllib.request
import zipfile

import pytest

from audiolens._internal.errors import DataError, ParameterError
from audiolens.datasets import download as download_module
from audiolens.datasets import download_dataset, load_fsdd, load_speech_commands
from audiolens.datasets.download import SOURCES, DatasetSource
from audiolens.testing import make_fsdd, make_speech_commands


def _zip_tree(folder, prefix):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                archive.write(path, f"{prefix}/{path.relative_to(folder).as_posix()}")
    return buffer.getvalue()


def _tar_tree(folder):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for path in sorted(folder.iterdir()):
            archive.add(path, path.name)
    return buffer.getvalue()


def _serve(monkeypatch, payload):
    calls = []

    def fake_urlopen(request, *args, **kwargs):
        calls.append(request.full_url)
        return io.BytesIO(payload)

    monkeypatch.setattr(urllib.request, "urlopen", fake_urlopen)
    return calls


def _offline(monkeypatch):
    def fail(*args, **kwargs):
        raise urllib.error.URLError("Temporary failure in name resolution")

    monkeypatch.setattr(urllib.request, "urlopen", fail)


def test_sources_are_official():
    assert set(SOURCES) == {"fsdd", "esc50", "urbansound8k", "speech_commands"}
    assert "Jakobovski/free-spoken-digit-dataset" in SOURCES["fsdd"].url
    assert "karolpiczak/ESC-50" in SOURCES["esc50"].url
    assert "zenodo.org/records/1203745" in SOURCES["urbansound8k"].url
    assert SOURCES["speech_commands"].url.endswith("download.tensorflow.org/data/speech_commands_v0.02.tar.gz")
    assert SOURCES["urbansound8k"].algorithm == "md5"
    assert len(SOURCES["urbansound8k"].checksum) == 32
    assert len(SOURCES["speech_commands"].checksum) == 64


def test_offline_error_is_clear(tmp_path, monkeypatch):
    _offline(monkeypatch)
    root = tmp_path / "esc50"
    message = r"could not reach https://github\.com/.*offline\?.*--data-root"
    with pytest.raises(DataError, match=message):
        download_dataset("esc50", root)
    assert list(root.iterdir()) == []  # no partial file left behind


def test_unknown_and_non_downloadable(tmp_path, monkeypatch):
    _offline(monkeypatch)
    with pytest.raises(ParameterError, match="unknown dataset 'esc100'"):
        download_dataset("esc100", tmp_path)
    assert download_dataset("synthetic", tmp_path / "syn") is None
    assert not (tmp_path / "syn").exists()
    with pytest.raises(ParameterError, match="own audio"):
        download_dataset("folder", tmp_path)


def test_zip_download_unpacks_into_root(tmp_path, monkeypatch):
    source_tree = make_fsdd(tmp_path / "src", speakers=("a",), n_per_digit=1, digits=(0, 1))
    (source_tree / "README.md").write_text("fsdd")
    payload = _zip_tree(source_tree, "free-spoken-digit-dataset-master")
    source = DatasetSource(
        url="https://example.invalid/fsdd.zip",
        filename="fsdd.zip",
        checksum=hashlib.sha256(payload).hexdigest(),
        algorithm="sha256",
        top_folder="free-spoken-digit-dataset-master",
        marker="recordings",
    )
    monkeypatch.setitem(SOURCES, "fsdd", source)
    calls = _serve(monkeypatch, payload)
    root = tmp_path / "data" / "fsdd"
    assert download_dataset("fsdd", root) == root
    assert calls == [source.url]
    assert sorted(p.name for p in root.iterdir()) == ["README.md", "recordings"]
    assert len(load_fsdd(root)) == 2
    # Already present: nothing is fetched; force fetches again.
    assert download_dataset("fsdd", root) == root and len(calls) == 1
    download_dataset("fsdd", root, force=True)
    assert len(calls) == 2 and len(load_fsdd(root)) == 2


def test_tar_without_top_folder(tmp_path, monkeypatch):
    source_tree = make_speech_commands(tmp_path / "src", labels=("yes",), n_per_label=3)
    payload = _tar_tree(source_tree)
    source = DatasetSource(
        url="https://example.invalid/sc.tar.gz",
        filename="sc.tar.gz",
        checksum=hashlib.md5(payload).hexdigest(),
        algorithm="md5",
        top_folder=None,
        marker="testing_list.txt",
    )
    monkeypatch.setitem(SOURCES, "speech_commands", source)
    _serve(monkeypatch, payload)
    root = download_dataset("speech_commands", tmp_path / "sc")
    assert not (root / "sc.tar.gz").exists()
    ds = load_speech_commands(root)
    assert len(ds) == 3 and ds.splits == ["train", "validation", "test"]


def test_checksum_mismatch(tmp_path, monkeypatch):
    payload = b"not the archive"
    monkeypatch.setitem(
        SOURCES,
        "urbansound8k",
        DatasetSource("https://example.invalid/u.tgz", "u.tgz", "0" * 32, "md5", None, "x"),
    )
    _serve(monkeypatch, payload)
    with pytest.raises(DataError, match="checksum mismatch.*md5"):
        download_dataset("urbansound8k", tmp_path / "u")
    assert list((tmp_path / "u").iterdir()) == []


def test_corrupt_or_wrong_archive(tmp_path, monkeypatch):
    monkeypatch.setitem(
        SOURCES,
        "esc50",
        DatasetSource("https://example.invalid/e.zip", "e.zip", None, "sha256", "top", "meta/esc50.csv"),
    )
    _serve(monkeypatch, b"garbage bytes")
    with pytest.raises(DataError, match="neither a zip nor a tar"):
        download_dataset("esc50", tmp_path / "e")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("top/README.md", "no csv here")
    _serve(monkeypatch, buffer.getvalue())
    with pytest.raises(DataError, match="does not hold top/meta/esc50.csv"):
        download_dataset("esc50", tmp_path / "e")
    assert list((tmp_path / "e").iterdir()) == []


def test_refuses_path_traversal(tmp_path, monkeypatch):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("../evil.txt", "x")
    monkeypatch.setitem(
        SOURCES,
        "esc50",
        DatasetSource("https://example.invalid/e.zip", "e.zip", None, "sha256", None, "x"),
    )
    _serve(monkeypatch, buffer.getvalue())
    with pytest.raises(DataError, match="leaves the folder"):
        download_dataset("esc50", tmp_path / "e")
    assert not (tmp_path / "evil.txt").exists()
    assert download_module.SOURCES is SOURCES


def _full_esc50(top):
    (top / "meta").mkdir(parents=True)
    (top / "audio").mkdir()
    lines = ["filename,fold,target,category,esc10,src_file,take"]
    for k in range(2000):
        name = f"{k % 5 + 1}-{k}-A-{k % 50}.wav"
        lines.append(f"{name},{k % 5 + 1},{k % 50},class{k % 50},False,{k},A")
        (top / "audio" / name).write_bytes(b"")
    (top / "meta" / "esc50.csv").write_text("\n".join(lines) + "\n")
    return top


def _full_fsdd(top, speakers=("george", "jackson", "nicolas", "theo")):
    (top / "recordings").mkdir(parents=True)
    for speaker in speakers:
        for digit in range(10):
            for index in range(50):
                (top / "recordings" / f"{digit}_{speaker}_{index}.wav").write_bytes(b"")
    return top


def test_content_verification_of_the_sources_without_checksum(tmp_path):
    assert SOURCES["esc50"].verify is download_module.verify_esc50
    assert SOURCES["fsdd"].verify is download_module.verify_fsdd
    esc50 = _full_esc50(tmp_path / "esc50")
    download_module.verify_esc50(esc50)
    (esc50 / "audio" / "3-2-A-2.wav").unlink()
    with pytest.raises(DataError, match=r"1 listed file\(s\) missing from audio/, e\.g\. 3-2-A-2\.wav"):
        download_module.verify_esc50(esc50)
    lines = (esc50 / "meta" / "esc50.csv").read_text().splitlines()
    (esc50 / "meta" / "esc50.csv").write_text("\n".join(lines[:-1]) + "\n")
    with pytest.raises(DataError, match="lists 1999 clips, not 2000.*not 400 in each"):
        download_module.verify_esc50(esc50)
    fsdd = _full_fsdd(tmp_path / "fsdd")
    download_module.verify_fsdd(fsdd)
    (fsdd / "recordings" / "7_theo_49.wav").unlink()
    with pytest.raises(DataError, match="theo: missing e.g. 7_theo_49.wav"):
        download_module.verify_fsdd(fsdd)
    with pytest.raises(DataError, match="holds 2 speaker"):
        download_module.verify_fsdd(_full_fsdd(tmp_path / "two", speakers=("a", "b")))


def test_the_real_fsdd_copy_passes_the_content_check(fsdd_root):
    download_module.verify_fsdd(fsdd_root)


def test_download_rejects_an_archive_whose_content_is_incomplete(tmp_path, monkeypatch):
    tree = make_fsdd(tmp_path / "src", speakers=("a",), n_per_digit=1, digits=(0, 1))
    payload = _zip_tree(tree, "free-spoken-digit-dataset-master")
    _serve(monkeypatch, payload)
    root = tmp_path / "fsdd"
    with pytest.raises(DataError, match="FSDD download is incomplete"):
        download_dataset("fsdd", root)
    assert not (root / "recordings").exists()  # nothing half-verified is moved into place
