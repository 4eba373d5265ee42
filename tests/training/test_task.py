import pytest
import torch

from audiolens import DataError, ParameterError
from audiolens.functional import get_preset
from audiolens.training.task import ClassificationTask, load_task


def _task(**kw):
    args = dict(model="small_cnn_tiny", class_names=["a", "b", "c"], features=get_preset("pann", 8000).to_dict())
    args.update(kw)
    return ClassificationTask(**args)


def test_forward_and_training_step():
    task = _task(augment={"mixup_alpha": 0.4, "freq_mask": 4, "time_mask": 5})
    wave = torch.randn(4, 4000)
    assert task(wave).shape == (4, 3)
    loss = task.training_step((wave, torch.tensor([0, 1, 2, 0])), 0)
    assert torch.isfinite(loss)
    loss.backward()
    assert all(p.grad is not None for p in task.model.parameters() if p.requires_grad)


def test_class_weighted_loss_equals_weighted_mean():
    task = _task(class_weights=[1.0, 2.0, 0.0])
    logits = torch.randn(3, 3)
    soft = torch.eye(3)
    ce = torch.nn.functional.cross_entropy(logits, torch.arange(3), weight=torch.tensor([1.0, 2.0, 0.0]))
    assert torch.allclose(task._loss(logits, soft), ce)


def test_bad_configuration():
    with pytest.raises(ParameterError, match="optim"):
        _task(optim={"learning_rate": 1})
    with pytest.raises(ParameterError, match="augment"):
        _task(augment={"mix": 1})
    with pytest.raises(ParameterError, match="class_weights"):
        _task(class_weights=[1.0])
    with pytest.raises(ParameterError, match="2 classes"):
        _task(class_names=["only"])
    with pytest.raises(ParameterError, match="model"):
        _task(model="no_such_model")
    with pytest.raises(DataError, match="NaN"):
        _task()(torch.full((1, 4000), float("nan")))


def test_load_task_errors(tmp_path):
    with pytest.raises(DataError, match="not found"):
        load_task(tmp_path / "missing.ckpt")
    (tmp_path / "junk.ckpt").write_bytes(b"junk")
    with pytest.raises(DataError, match="cannot read"):
        load_task(tmp_path / "junk.ckpt")
    torch.save({"state_dict": {}}, tmp_path / "other.ckpt")
    with pytest.raises(DataError, match="not an audiolens"):
        load_task(tmp_path / "other.ckpt")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_task_on_cuda_with_autocast():
    task = _task().cuda().eval()
    wave = torch.randn(2, 4000, device="cuda")
    with torch.autocast("cuda", dtype=torch.float16):
        feats = task.features(torch.nn.functional.pad(wave, (0, 4000)))  # zero padding: -inf in fp16
        logits = task(wave)
    assert feats.dtype == torch.float32 and torch.isfinite(feats).all()
    assert logits.shape == (2, 3) and torch.isfinite(logits).all()
