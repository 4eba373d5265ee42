import pytest
import torch

from audiolens import DataError
from audiolens.io import load_torch_file


def test_load_torch_file_and_its_errors(tmp_path):
    torch.save({"x": torch.arange(3)}, tmp_path / "ok.pt")
    assert torch.equal(load_torch_file(tmp_path / "ok.pt")["x"], torch.arange(3))
    with pytest.raises(DataError, match="checkpoint not found: .*missing.pt"):
        load_torch_file(tmp_path / "missing.pt", "checkpoint")
    (tmp_path / "junk.pt").write_bytes(b"not a pickle")
    with pytest.raises(DataError, match="cannot read weights .*junk.pt: UnpicklingError"):
        load_torch_file(tmp_path / "junk.pt", "weights")
