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


class _AuxModel(torch.nn.Module):
    input_kind = "logmel"

    def __init__(self, num_classes: int = 3, n_mels: int = 64):
        super().__init__()
        self.n_mels = n_mels
        self.classifier = torch.nn.Linear(n_mels, num_classes)

    def forward(self, x):
        features = x.mean(dim=-1)
        return self.classifier(features), {"reconstruction": features.pow(2).mean(), "sparsity": features.abs().mean()}


@pytest.fixture
def aux_model():
    from audiolens.models import MODELS, register_model

    def aux_test_model(*, num_classes: int = 3, n_mels: int = 64):
        return _AuxModel(num_classes, n_mels)

    register_model(default_cfg={"input_kind": "logmel"})(aux_test_model)
    yield "aux_test_model"
    MODELS.remove("aux_test_model")


def test_auxiliary_losses_are_weighted_into_the_loss(aux_model):
    task = _task(model=aux_model, loss_weights={"reconstruction": 0.5})
    wave, target = torch.randn(4, 4000), torch.tensor([0, 1, 2, 0])
    logits = task(wave)  # forward returns the logits only
    assert logits.shape == (4, 3)
    torch.manual_seed(0)
    loss = task.training_step((wave, target), 0)
    x = task.features(wave)
    main_loss = torch.nn.functional.cross_entropy(task.model(x)[0], target)
    _, aux = task.model(x)
    expected = main_loss + 0.5 * aux["reconstruction"] + 1.0 * aux["sparsity"]
    assert torch.allclose(loss, expected, atol=1e-6)
    bad = _task(model=aux_model, loss_weights={"causal": 1.0})
    with pytest.raises(
        ParameterError, match=r"task.loss_weights names \['causal'\].*returns \['reconstruction', 'sparsity'\]"
    ):
        bad.training_step((wave, target), 0)


def test_multilabel_task_uses_sigmoid_and_binary_cross_entropy():
    task = _task(multilabel=True).eval()
    wave = torch.randn(4, 4000)
    target = torch.tensor([[1.0, 0.0, 1.0], [0.0, 1.0, 0.0], [1.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    logits = task(wave)
    assert torch.allclose(
        task._loss(logits, target), torch.nn.functional.binary_cross_entropy_with_logits(logits, target)
    )
    probs = task.predict_step(wave, 0)
    assert torch.allclose(probs, torch.sigmoid(logits)) and not torch.allclose(probs.sum(-1), torch.ones(4))
    assert set(task.metrics["val"].keys()) == {"val_map", "val_micro_f1"}
    with pytest.raises(ParameterError, match="single-label"):
        _task(multilabel=True, class_weights=[1.0, 1.0, 1.0])


def test_input_kind_mismatch_is_refused():
    with pytest.raises(ParameterError, match="takes 'logmel' input but features.type is 'waveform'"):
        _task(features={"type": "waveform", "sample_rate": 8000})


def test_seed_step_differs_for_every_micro_batch_of_an_accumulation_group(tmp_path):
    import lightning as L

    from audiolens.training.data import WaveformDataset

    class Recording(ClassificationTask):
        seeds: list = []

        def training_step(self, batch, batch_idx):
            Recording.seeds.append(torch.initial_seed())
            return super().training_step(batch, batch_idx)

    task = Recording(model="small_cnn_tiny", class_names=["a", "b"], features=get_preset("pann", 8000).to_dict())
    data = WaveformDataset([torch.randn(4000) for _ in range(16)], [i % 2 for i in range(16)], 4000)
    loader = torch.utils.data.DataLoader(data, batch_size=4)
    trainer = L.Trainer(
        max_epochs=2,
        accumulate_grad_batches=2,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        limit_val_batches=0,
        default_root_dir=tmp_path,
    )
    trainer.fit(task, train_dataloaders=loader)
    assert len(Recording.seeds) == 8 and len(set(Recording.seeds)) == 8  # 2 epochs x 4 micro-batches
    assert trainer.global_step == 4


def test_waveform_augmentations_change_training_inputs_only():
    features = {"type": "waveform", "sample_rate": 8000, "normalize": None}
    task = _task(model="cnn12_small", features=features, augment={"waveform": [{"time_mask": {"max_fraction": 0.5}}]})
    seen = []
    task.model.register_forward_pre_hook(lambda m, args: seen.append(args[0].detach().clone()))
    torch.manual_seed(0)
    wave = torch.randn(4, 4000) + 3.0  # no sample is zero before masking
    task.training_step((wave, torch.tensor([0, 1, 2, 0])), 0)
    task.eval()
    with torch.no_grad():
        task(wave)
    masked = (seen[0] == 0).sum(dim=-1)
    assert (masked > 0).all() and (masked <= 2000).all()  # a time mask of up to half the clip, per example
    assert torch.equal(seen[1], wave)  # evaluation sees the clip as it is
    with pytest.raises(ParameterError, match=r"task.augment.waveform\[0\] 'rrc' is a logmel augmentation"):
        _task(augment={"waveform": ["rrc"]})
    with pytest.raises(ParameterError, match=r"unknown task.augment.waveform\[1\] 'reverb'"):
        _task(augment={"waveform": ["gain", "reverb"]})
